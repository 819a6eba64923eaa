"""The floor of a session check: a bare ASGI callable that runs the check's own SELECT (Sump's statement, compiled
for PostgreSQL, passed in `BARE_SQL`) for one session with asyncpg, on one of four connections of its own, and
answers a small body. What a check must cost at least on the server stack and the database of the run: the
answer, the statement's round trip and its row; no cookie, no security headers, no access line, no rendering.

Configured by the environment: `BARE_DATABASE_URL`, `BARE_SQL`, `BARE_DIGEST` (the token's SHA-256, hex),
`BARE_CONTEXT` (the tenant id), `BARE_IDLE_SECONDS` (the idle window), `BARE_ABSOLUTE_SECONDS` (the absolute
lifetime)."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

CONNECTIONS = 4
SQL = os.environ.get("BARE_SQL", "")
DIGEST = bytes.fromhex(os.environ.get("BARE_DIGEST", ""))
CONTEXT = uuid.UUID(os.environ["BARE_CONTEXT"]) if "BARE_CONTEXT" in os.environ else None
IDLE = timedelta(seconds=int(os.environ.get("BARE_IDLE_SECONDS", "604800")))
ABSOLUTE = timedelta(seconds=int(os.environ.get("BARE_ABSOLUTE_SECONDS", "2592000")))
_idle: list[asyncpg.Connection] = []
_free: asyncio.Semaphore | None = None


def _answer(status: int, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {"type": "http.response.start", "status": status, "headers": headers}, {
        "type": "http.response.body",
        "body": body,
    }


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _free
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                url = os.environ["BARE_DATABASE_URL"]
                _idle.extend([await asyncpg.connect(url) for _ in range(CONNECTIONS)])
                _free = asyncio.Semaphore(CONNECTIONS)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for connection in _idle:
                    await connection.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert _free is not None
    now = datetime.now(UTC)
    async with _free:
        connection = _idle.pop()
        try:
            row = await connection.fetchrow(SQL, DIGEST, now, now - IDLE, now - ABSOLUTE, CONTEXT)
        finally:
            _idle.append(connection)
    start, body = _answer(200, b'{"id":"%s"}' % str(row["id"]).encode()) if row else _answer(401, b"{}")
    await send(start)
    await send(body)
