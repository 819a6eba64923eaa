"""One outbox round in a process of its own, so a test can kill a sender mid-send.

`python -m tests.kit.outbox_process DATABASE_URL SMTP_PORT [LEASE_SECONDS]` claims what is due, sends it to the
SMTP server on 127.0.0.1:SMTP_PORT and prints how many messages were sent.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

from sump.db.engine import make_engine, make_sessionmaker
from sump.kit.email.mailers import SmtpMailer
from sump.kit.email.outbox import OutboxWorker

SENDER = "outbox@sump.test"


def mailer(port: int) -> SmtpMailer:
    """An SMTP mailer patient enough to wait for a server that holds its answer to DATA."""
    return SmtpMailer(SENDER, "127.0.0.1", port, None, None, use_tls=False, start_tls=False, timeout=120)


async def main(database_url: str, port: int, lease_seconds: float | None) -> None:
    engine = make_engine(database_url)
    options: dict[str, Any] = {} if lease_seconds is None else {"lease": timedelta(seconds=lease_seconds)}
    try:
        worker = OutboxWorker(make_sessionmaker(engine), mailer(port), {}, **options)
        print(await worker.run_once(), flush=True)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else None))
