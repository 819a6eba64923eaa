"""The transactional outbox. Requests write rows in their own transaction; a worker delivers them at least
once, with retries and exponential backoff, and gives up (`abandoned`) after a number of attempts.

Claims are leases (`LEASE`, 25 s): the worker renews the lease of its claimed rows while it works on them, and
stops a send whose lease it can no longer renew, so a row is never taken over while its sender is alive, and the
rows of a sender that died are taken over by any worker once the lease has run out. A finished row (sent or
abandoned) keeps the recipient and the subject, never the body: it may hold a reset link.

A `password_reset` row records only who asked. The worker resolves it: it creates the reset token and turns
the row into the email in one transaction, or drops it when no such account exists. So the request costs the
same whether or not the account exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sump.db.base import utcnow
from sump.db.tables.outbox import OutboxKind, OutboxMessage, OutboxStatus
from sump.kit import metrics
from sump.kit.email import repository
from sump.kit.email.mailers import Email, Mailer
from sump.kit.email.templates import render

log = structlog.get_logger("sump.outbox")
MAX_ATTEMPTS = 8
BATCH = 20
LEASE = timedelta(seconds=25)  # with the worker polling each second, a dead sender's rows move on within 30 s
Preparer = Callable[[AsyncSession, dict[str, Any], datetime], Awaitable[Email | None]]


async def enqueue_email(db: AsyncSession, template: str, to: str, **context: Any) -> None:
    email = render(template, to, **context)
    await repository.add(db, OutboxKind.EMAIL, asdict(email), template)


ENQUEUED = "sump_outbox_enqueued"


async def enqueue(db: AsyncSession, kind: OutboxKind, payload: dict[str, Any]) -> None:
    """Adds a message in the caller's transaction; the request wakes the worker once that has committed."""
    await repository.add(db, kind, payload)
    db.info[ENQUEUED] = True


def residue(message: OutboxMessage) -> dict[str, Any]:
    """What a finished email keeps: who it went to and its subject, not its body (which may hold a link)."""
    if message.kind is not OutboxKind.EMAIL:
        return message.payload  # a request not yet turned into an email: who asked, no secret
    return {key: message.payload[key] for key in ("to", "subject") if key in message.payload}


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s … at most one hour."""
    return timedelta(seconds=min(10 * 2 ** (attempts - 1), 3600))


class _Lease:
    """The lease of one round's claim, renewed in the background every third of its length.

    `now` is the round's clock (a test may set it); renewals advance it by the real time elapsed since.
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], claim_id: uuid.UUID, length: timedelta, now: datetime
    ) -> None:
        self.sessionmaker = sessionmaker
        self.claim_id = claim_id
        self.length = length
        self.interval = length.total_seconds() / 3
        self.started = self.renewed = time.monotonic()
        self.now = now
        self.held: set[uuid.UUID] | None = None  # known after the first renewal
        self.changed = asyncio.Event()

    async def keep(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                until = self.now + timedelta(seconds=time.monotonic() - self.started) + self.length
                async with self.sessionmaker() as db, db.begin():
                    self.held = await repository.renew(db, self.claim_id, until)
                self.renewed = time.monotonic()
            except Exception as exc:  # the database is away: the send stops before the lease can run out
                log.warning("outbox_lease_not_renewed", error=type(exc).__name__)
            self.changed.set()

    def holds(self, message_id: uuid.UUID) -> bool:
        """Whether the message is surely still ours: renewed, with a renewal's margin before the lease ends."""
        if time.monotonic() - self.renewed > self.length.total_seconds() - self.interval:
            return False
        return self.held is None or message_id in self.held

    async def guard(self, message_id: uuid.UUID, sending: Awaitable[None]) -> bool:
        """Runs the send while the lease holds: True once sent, False if it was stopped (the lease was lost)."""
        send = asyncio.ensure_future(sending)
        renewals: list[asyncio.Future[Any]] = []
        try:
            while True:
                self.changed.clear()
                renewal = asyncio.ensure_future(self.changed.wait())
                renewals.append(renewal)
                await asyncio.wait({send, renewal}, return_when=asyncio.FIRST_COMPLETED)
                renewal.cancel()
                if send.done():
                    send.result()
                    return True
                if not self.holds(message_id):
                    return False
        finally:
            for waiting in renewals:
                waiting.cancel()
            # A cancelled SMTP client says QUIT to a server that may never answer: cancel that too, then it closes.
            while not send.done():
                send.cancel()
                await asyncio.wait({send}, timeout=1.0)
            if not send.cancelled():
                send.exception()  # retrieved: a stopped send's error is not this round's


class OutboxWorker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        preparers: dict[OutboxKind, Preparer],
        max_attempts: int = MAX_ATTEMPTS,
        lease: timedelta = LEASE,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.mailer = mailer
        self.preparers = preparers
        self.max_attempts = max_attempts
        self.lease = lease
        self._wake = asyncio.Event()
        self.metrics = metrics.of()

    def wake(self) -> None:
        self._wake.set()

    async def measure_backlog(self) -> None:
        """Sets `sump_outbox_backlog` from the table (at a scrape: one indexed count)."""
        async with self.sessionmaker() as db:
            self.metrics.outbox_backlog.set(await repository.backlog(db))

    async def run_forever(self, interval: float = 1.0) -> None:
        failing: str | None = None  # a failure repeated every round is logged once, and its end once
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # a broken round (database down) must not end the worker
                if type(exc).__name__ != failing:
                    failing = type(exc).__name__
                    log.warning("outbox_round_failed", error=failing)
            else:
                if failing is not None:
                    failing = None
                    log.info("outbox_rounds_resumed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def run_once(self, now: datetime | None = None) -> int:
        """Delivers what is due at `now`, a batch after another until one comes back short, so a backlog goes out
        at the speed of the mail server rather than a batch a round; returns how many messages were sent."""
        now = now or utcnow()
        sent = 0
        while True:
            claimed, delivered = await self._round(now)
            sent += delivered
            if claimed < BATCH:
                return sent

    async def _round(self, now: datetime) -> tuple[int, int]:
        """One batch: how many messages were claimed, and how many of them sent. A round stopped midway (the
        server shuts down) hands its unsent rows back at once instead of leaving them to their lease."""
        claim_id = uuid.uuid4()
        async with self.sessionmaker() as db, db.begin():
            claimed = await repository.claim_due(db, now, BATCH, self.lease, claim_id)
        if not claimed:
            return 0, 0
        lease = _Lease(self.sessionmaker, claim_id, self.lease, now)
        renewing = asyncio.create_task(lease.keep())
        try:
            sent = 0
            for message_id in claimed:
                sent += await self._process(message_id, lease, now)
            return len(claimed), sent
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # the database is away: the lease runs out instead
                async with self.sessionmaker() as db, db.begin():
                    await repository.release(db, claim_id)
            raise
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _process(self, message_id: uuid.UUID, lease: _Lease, now: datetime) -> int:
        try:
            async with self.sessionmaker() as db, db.begin():
                message = await repository.get_claimed(db, message_id, lease.claim_id)
                if message is None:  # taken over after our lease ran out, or finished by another worker
                    return 0
                if message.kind is not OutboxKind.EMAIL and not await self._prepare(db, message, now):
                    return 0
                email = Email(**message.payload)
        except Exception as exc:  # a preparer that fails counts as a failed attempt too
            await self._failed(message_id, lease.claim_id, exc, now)
            return 0
        try:
            sent = await lease.guard(message_id, self.mailer.send(email))
        except Exception as exc:
            await self._failed(message_id, lease.claim_id, exc, now)
            return 0
        if not sent:
            log.warning("email_lease_lost", message_id=str(message_id))
            return 0
        async with self.sessionmaker() as db, db.begin():
            # Accepted by the SMTP server: recorded whoever holds the row now, so nobody sends it again.
            message = await repository.get(db, message_id)
            if message is not None:
                message.status = OutboxStatus.SENT
                message.sent_at = utcnow()
                message.payload = residue(message)
                message.lease_expires_at = None
        self.metrics.outbox_sent.inc()
        return 1

    async def _prepare(self, db: AsyncSession, message: OutboxMessage, now: datetime) -> bool:
        email = await self.preparers[message.kind](db, message.payload, now)
        if email is None:
            message.status = OutboxStatus.DROPPED
            message.payload = {}
            message.lease_expires_at = None
            return False
        message.template = message.template or message.kind.value
        message.kind = OutboxKind.EMAIL
        message.payload = asdict(email)
        return True

    async def _failed(self, message_id: uuid.UUID, claim_id: uuid.UUID, exc: Exception, now: datetime) -> None:
        async with self.sessionmaker() as db, db.begin():
            message = await repository.get_claimed(db, message_id, claim_id)
            if message is None:  # no longer ours: its new holder decides
                return
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:200]
            message.lease_expires_at = None
            if message.attempts >= self.max_attempts:
                message.status = OutboxStatus.ABANDONED
                message.payload = residue(message)
                log.error("email_abandoned", message_id=str(message_id), attempts=message.attempts)
                self.metrics.outbox_failures.labels("abandoned").inc()
            else:
                message.status = OutboxStatus.QUEUED
                message.next_attempt_at = now + backoff(message.attempts)
                log.warning("email_retry", message_id=str(message_id), attempts=message.attempts)
                self.metrics.outbox_failures.labels("retried").inc()
