"""The transactional outbox. Requests write rows in their own transaction; a worker delivers them at least
once, with retries and exponential backoff, and gives up (`abandoned`) after a number of attempts.

A `password_reset` row records only who asked. The worker resolves it: it creates the reset token and turns
the row into the email in one transaction, or drops it when no such account exists. So the request costs the
same whether or not the account exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sump.db.base import utcnow
from sump.db.tables.outbox import OutboxKind, OutboxMessage, OutboxStatus
from sump.kit.email import repository
from sump.kit.email.mailers import Email, Mailer
from sump.kit.email.templates import render

log = structlog.get_logger("sump.outbox")
MAX_ATTEMPTS = 8
BATCH = 20
Preparer = Callable[[AsyncSession, dict[str, Any], datetime], Awaitable[Email | None]]


async def enqueue_email(db: AsyncSession, template: str, to: str, **context: Any) -> None:
    email = render(template, to, **context)
    await repository.add(db, OutboxKind.EMAIL, asdict(email), template)


ENQUEUED = "sump_outbox_enqueued"


async def enqueue(db: AsyncSession, kind: OutboxKind, payload: dict[str, Any]) -> None:
    """Adds a message in the caller's transaction; the request wakes the worker once that has committed."""
    await repository.add(db, kind, payload)
    db.info[ENQUEUED] = True


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s … at most one hour."""
    return timedelta(seconds=min(10 * 2 ** (attempts - 1), 3600))


class OutboxWorker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        preparers: dict[OutboxKind, Preparer],
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.mailer = mailer
        self.preparers = preparers
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self, interval: float = 1.0) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # a broken round (database down) must not end the worker
                log.warning("outbox_round_failed", error=type(exc).__name__)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def run_once(self, now: datetime | None = None) -> int:
        """Delivers what is due; returns how many messages were sent."""
        now = now or utcnow()
        async with self.sessionmaker() as db, db.begin():
            claimed = await repository.claim_due(db, now, BATCH)
        sent = 0
        for message_id in claimed:
            sent += await self._process(message_id, now)
        return sent

    async def _process(self, message_id: uuid.UUID, now: datetime) -> int:
        async with self.sessionmaker() as db, db.begin():
            message = await repository.get(db, message_id)
            if message is None:
                return 0
            if message.kind is not OutboxKind.EMAIL and not await self._prepare(db, message, now):
                return 0
            email = Email(**message.payload)
        try:
            await self.mailer.send(email)
        except Exception as exc:
            await self._failed(message_id, exc, now)
            return 0
        async with self.sessionmaker() as db, db.begin():
            message = await repository.get(db, message_id)
            if message is not None:
                message.status = OutboxStatus.SENT
                message.sent_at = utcnow()
                message.payload = {"to": email.to, "subject": email.subject}  # the body may hold a token
        return 1

    async def _prepare(self, db: AsyncSession, message: OutboxMessage, now: datetime) -> bool:
        email = await self.preparers[message.kind](db, message.payload, now)
        if email is None:
            message.status = OutboxStatus.DROPPED
            message.payload = {}
            return False
        message.kind = OutboxKind.EMAIL
        message.payload = asdict(email)
        return True

    async def _failed(self, message_id: uuid.UUID, exc: Exception, now: datetime) -> None:
        async with self.sessionmaker() as db, db.begin():
            message = await repository.get(db, message_id)
            if message is None:
                return
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:200]
            if message.attempts >= self.max_attempts:
                message.status = OutboxStatus.ABANDONED
                log.error("email_abandoned", message_id=str(message_id), attempts=message.attempts)
            else:
                message.status = OutboxStatus.QUEUED
                message.next_attempt_at = now + backoff(message.attempts)
                log.warning("email_retry", message_id=str(message_id), attempts=message.attempts)
