"""The email outbox under process faults, and what its finished rows keep.

Claims are leases: a sender that dies mid-send (a real process, killed) loses its rows to any other worker
within 30 s, while a live sender renews its lease for as long as its SMTP server takes. Time is driven through
the rows' timestamps (`run_once(now=…)`), never slept. A finished row, sent or abandoned, keeps what an operator
needs (kind, recipient, status, attempts, last error) and nothing of the message's body (the reset link).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sump.app import create_app
from sump.db.base import utcnow
from sump.db.engine import make_engine, make_sessionmaker
from sump.db.tables.outbox import OutboxKind, OutboxMessage, OutboxStatus
from sump.kit.email.mailers import Email
from sump.kit.email.outbox import BATCH, OutboxWorker, enqueue
from tests.kit.outbox_process import mailer
from tests.mail import HOSTED_LINK, LINK, Inbox, SmtpServer, reset_token
from tests.servers import free_port
from tests.support import BACKENDS, Database, create_database, drop_database, make_settings, new_tenant

CHECKOUT = Path(__file__).resolve().parents[2]
WITHIN = timedelta(seconds=30)  # a dead sender's rows are taken over this long after it died, at the latest
DEADLINE = 60.0


class StallingInbox(Inbox):
    """Holds its answer to DATA until the test releases it, then accepts (250) or refuses (451) the message."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.accept = True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrived.set()
        await asyncio.get_running_loop().run_in_executor(None, self.released.wait, DEADLINE * 2)
        if self.accept:
            return await super().handle_DATA(server, session, envelope)
        return "451 4.3.0 try again later"


@pytest.fixture
def stalling() -> Iterator[tuple[SmtpServer, StallingInbox]]:
    server = SmtpServer()
    inbox = server.inbox = StallingInbox()
    server.start()
    yield server, inbox
    inbox.released.set()
    server.stop()


@pytest.fixture(params=BACKENDS)
def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of this test alone, so no other test's outbox rows are in the way."""
    database = create_database(request.param, tmp_path)
    yield database
    drop_database(database)


@pytest.fixture
async def sessions(own_database: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(own_database.url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def poll(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {DEADLINE} s: {what}")
        await asyncio.sleep(0.05)  # between two looks at the row, not in place of one


async def add_email(sessions: async_sessionmaker[AsyncSession], to: str) -> uuid.UUID:
    async with sessions() as db, db.begin():
        await enqueue(db, OutboxKind.EMAIL, asdict(Email(to, "Hello", "the body", "<p>the body</p>")))
    async with sessions() as db:
        [message_id] = await db.scalars(select(OutboxMessage.id))  # the database is this test's alone
        return message_id


async def row(sessions: async_sessionmaker[AsyncSession], message_id: uuid.UUID) -> OutboxMessage:
    async with sessions() as db:
        message = await db.get(OutboxMessage, message_id)
        assert message is not None
        return message


def start_sender(database: Database, port: int, *lease: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tests.kit.outbox_process", database.url, str(port), *lease],
        cwd=CHECKOUT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def wait_for_data(inbox: StallingInbox, sender: subprocess.Popen[str]) -> None:
    async def sending() -> bool:
        assert sender.poll() is None, sender.communicate()
        return inbox.arrived.is_set()

    await poll(sending, "the sender reached DATA")


@pytest.mark.asvs("REL-03")
async def test_rows_of_a_sender_killed_mid_send_are_taken_over_within_thirty_seconds(
    own_database: Database,
    sessions: async_sessionmaker[AsyncSession],
    stalling: tuple[SmtpServer, StallingInbox],
    smtp: SmtpServer,
) -> None:
    _, held = stalling
    message_id = await add_email(sessions, "killed@example.com")
    sender = start_sender(own_database, stalling[0].port)
    try:
        await wait_for_data(held, sender)
    finally:
        sender.kill()
        sender.wait(timeout=DEADLINE)
    died = utcnow()
    held.accept = False
    held.released.set()

    claimed = await row(sessions, message_id)
    assert claimed.status is OutboxStatus.PROCESSING
    assert claimed.claimed_at is not None
    other = OutboxWorker(sessions, mailer(smtp.port), {})

    assert await other.run_once(now=claimed.claimed_at + timedelta(seconds=20)) == 0, "its lease still holds"
    assert (await row(sessions, message_id)).status is OutboxStatus.PROCESSING
    assert not smtp.inbox.to("killed@example.com")

    assert await other.run_once(now=died + WITHIN) == 1
    done = await row(sessions, message_id)
    assert done.status is OutboxStatus.SENT
    assert len(smtp.inbox.to("killed@example.com")) == 1
    assert not held.to("killed@example.com"), "the killed sender's copy was never accepted"
    assert await other.run_once(now=died + 10 * WITHIN) == 0, "sent once, never again"


@pytest.mark.asvs("REL-03")
async def test_a_live_sender_renews_its_lease_and_keeps_its_rows(
    own_database: Database,
    sessions: async_sessionmaker[AsyncSession],
    stalling: tuple[SmtpServer, StallingInbox],
    smtp: SmtpServer,
) -> None:
    lease = timedelta(seconds=2)
    _, held = stalling
    message_id = await add_email(sessions, "slow@example.com")
    sender = start_sender(own_database, stalling[0].port, str(lease.total_seconds()))
    try:
        await wait_for_data(held, sender)
        claimed_at = (await row(sessions, message_id)).claimed_at
        assert claimed_at is not None

        async def two_leases_later() -> bool:
            assert sender.poll() is None, sender.communicate()
            return utcnow() > claimed_at + 2 * lease

        await poll(two_leases_later, "two leases passed")
        other = OutboxWorker(sessions, mailer(smtp.port), {})
        assert await other.run_once() == 0
        still = await row(sessions, message_id)
        assert (still.status, still.claimed_at) == (OutboxStatus.PROCESSING, claimed_at), "nobody took it over"

        held.released.set()
        output, errors = sender.communicate(timeout=DEADLINE)
        assert (sender.returncode, output.split()[-1]) == (0, "1"), errors
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait(timeout=DEADLINE)
    assert (await row(sessions, message_id)).status is OutboxStatus.SENT
    assert len(held.to("slow@example.com")) == 1
    assert not smtp.inbox.to("slow@example.com")


@pytest.mark.asvs("REL-03")
async def test_a_sender_whose_rows_were_taken_over_stops_its_send(
    own_database: Database,
    sessions: async_sessionmaker[AsyncSession],
    stalling: tuple[SmtpServer, StallingInbox],
) -> None:
    lease = timedelta(seconds=2)
    _, held = stalling
    message_id = await add_email(sessions, "taken@example.com")
    sender = start_sender(own_database, stalling[0].port, str(lease.total_seconds()))
    try:
        await wait_for_data(held, sender)
        other_claim = uuid.uuid4()
        async with sessions() as db, db.begin():  # another worker's claim, as if this one's lease had run out
            await db.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(claim_id=other_claim))
        output, errors = sender.communicate(timeout=DEADLINE)  # ends without the server's answer to DATA
        assert (sender.returncode, output.split()[-1]) == (0, "0"), errors
        assert "email_lease_lost" in output
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait(timeout=DEADLINE)
    taken = await row(sessions, message_id)
    assert (taken.status, taken.claim_id, taken.attempts) == (OutboxStatus.PROCESSING, other_claim, 0)


@pytest.mark.asvs("REL-03")
async def test_a_backlog_larger_than_a_batch_goes_out_in_one_round(
    sessions: async_sessionmaker[AsyncSession], smtp: SmtpServer
) -> None:
    addresses = [f"backlog-{n}@example.com" for n in range(BATCH + 5)]
    async with sessions() as db, db.begin():
        for address in addresses:
            await enqueue(db, OutboxKind.EMAIL, asdict(Email(address, "Hello", "the body", "<p>the body</p>")))

    assert await OutboxWorker(sessions, mailer(smtp.port), {}).run_once() == len(addresses)
    assert all(len(smtp.inbox.to(address)) == 1 for address in addresses)


@pytest.mark.asvs("REL-03")
async def test_a_stopped_worker_hands_its_claim_back_at_once(
    sessions: async_sessionmaker[AsyncSession], stalling: tuple[SmtpServer, StallingInbox], smtp: SmtpServer
) -> None:
    _, held = stalling
    message_id = await add_email(sessions, "stopped@example.com")
    worker = asyncio.create_task(OutboxWorker(sessions, mailer(stalling[0].port), {}).run_forever())
    await poll(lambda: asyncio.to_thread(held.arrived.wait, 0.05), "the worker reached DATA")
    worker.cancel()  # what the server's shutdown does
    await asyncio.wait({worker})

    handed_back = await row(sessions, message_id)
    assert (handed_back.status, handed_back.claim_id, handed_back.lease_expires_at) == (OutboxStatus.QUEUED, None, None)
    assert await OutboxWorker(sessions, mailer(smtp.port), {}).run_once() == 1, "taken at once, not after the lease"
    assert len(smtp.inbox.to("stopped@example.com")) == 1


# What finished rows keep: reset emails through the whole application, on the shared test databases.


@pytest.fixture
def unreachable_smtp() -> int:
    """A port nobody listens on: every delivery fails to connect."""
    return free_port()


def mail_app(database: Database, port: int) -> FastAPI:
    return create_app(make_settings(database, email_backend="smtp", smtp_url=f"smtp://127.0.0.1:{port}"))


async def ask_for_reset(app: FastAPI) -> str:
    """An end user's forgot-password request through the API; returns the address the reset goes to."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.10", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        world = await new_tenant(http)
        user = await world.add_end_user(world.environment_id)
        forgot = await http.post(f"{user.auth_base}/forgot-password", json={"email": user.email})
        assert forgot.status_code == 200
        return user.email


async def rows_to(db: AsyncSession, address: str) -> list[OutboxMessage]:
    """The rows of emails to `address`, but for the verification link its sign-up sent."""
    return [
        message
        for message in await db.scalars(select(OutboxMessage))
        if message.payload.get("to") == address and message.template != "verify_email"
    ]


async def run_rounds(app: FastAPI, start: datetime, rounds: int) -> None:
    """Rounds an hour apart (past any backoff), as the worker would run them over the following hours."""
    for hour in range(rounds):
        await app.state.outbox.run_once(now=start + timedelta(hours=hour))


@pytest.mark.asvs("LOG-03", "REL-03")
async def test_a_sent_reset_email_leaves_no_link_in_its_row(database: Database, smtp: SmtpServer) -> None:
    app = mail_app(database, smtp.port)
    try:
        address = await ask_for_reset(app)
        await run_rounds(app, utcnow(), 1)
        token = reset_token(smtp.inbox.wait_for(address))
        async with app.state.sessionmaker() as db:
            [message] = await rows_to(db, address)
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()
    assert (message.status, message.kind, message.template) == (
        OutboxStatus.SENT,
        OutboxKind.EMAIL,
        "password_reset",
    )
    assert message.payload == {"to": address, "subject": "Reset your password"}
    assert token not in str(message.payload)


@pytest.mark.asvs("LOG-03", "REL-03")
async def test_an_abandoned_reset_email_leaves_no_link_in_its_row(database: Database, unreachable_smtp: int) -> None:
    app = mail_app(database, unreachable_smtp)
    try:
        address = await ask_for_reset(app)
        await run_rounds(app, utcnow(), app.state.outbox.max_attempts + 1)
        async with app.state.sessionmaker() as db:
            [message] = await rows_to(db, address)
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()
    assert (message.status, message.kind, message.template) == (
        OutboxStatus.ABANDONED,
        OutboxKind.EMAIL,
        "password_reset",
    )
    assert message.attempts == app.state.outbox.max_attempts
    assert message.last_error is not None
    assert message.last_error.startswith("SMTP")
    assert message.payload == {"to": address, "subject": "Reset your password"}
    assert not LINK.search(str(message.payload))
    assert not HOSTED_LINK.search(str(message.payload))
    assert "token" not in str(message.payload)
