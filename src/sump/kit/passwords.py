"""Password hashing off the event loop, in a bounded pool that refuses work instead of queueing without end.

argon2id with the OWASP parameters (m=19 MiB, t=2, p=1). bcrypt hashes (imported from the original Sump)
verify with its 72-byte rule and are replaced by argon2id on the next successful sign-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import unicodedata
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, TypeVar

import bcrypt
from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sump.kit.errors import Problem

T = TypeVar("T")
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
HASHING_NICENESS = 10
# The longest a request waits for a hashing thread before it is answered 503 (see PasswordHasher).
MAX_HASH_WAIT_SECONDS = 1.0
_holding_slot: ContextVar[bool] = ContextVar("sump_holding_hash_slot", default=False)


class PasswordHasher:
    """At most `workers` hashes run at once, and more wait only briefly; the rest is refused at once.

    A request that will hash takes its place first (`slot()`), before it touches the database, so a flood of
    sign-ins can neither hold database connections while it waits nor make anyone wait long: a newcomer is
    answered 503 with `Retry-After` straight away when `queue_size` are already waiting, or when the jobs
    ahead of it would take longer than `admission_wait` (half of `max_wait`) at the pace hashes have recently
    kept. That pace slows when the CPU is busy elsewhere: the hashing threads run at a
    lower priority than the event loop, so session checks stay fast while every core is hashing, and the
    queue shortens by itself. A job that waited longer than `max_wait` all the same is refused when its turn
    comes, so no request waits much longer than that for its hash.
    """

    def __init__(
        self, workers: int | None = None, queue_size: int = 16, max_wait: float = MAX_HASH_WAIT_SECONDS
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.capacity = self.workers + queue_size
        self.max_wait = max_wait
        self.admission_wait = max_wait / 2  # the pace lags a rising load: let in only what should wait half
        self.pending = 0
        self.hash_seconds = 0.0  # moving average of a hash's wall time in this pool
        self.started: dict[int, float] = {}  # thread id -> when its current hash began
        self.argon2 = Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)
        self.pool = ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="sump-hash", initializer=_lower_priority
        )
        self._dummy = self._timed(None, self.argon2.hash, "sump-dummy-password")

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Holds one place in the pool for the hashing this task does inside; 503 at once when it is full."""
        if _holding_slot.get():
            yield
            return
        if self.pending >= self.capacity or self.expected_wait() > self.admission_wait:
            raise _overloaded()
        self.pending += 1
        _holding_slot.set(True)
        try:
            yield
        finally:
            _holding_slot.set(False)
            self.pending -= 1

    def expected_wait(self) -> float:
        """Seconds a newcomer would wait for a thread: the jobs ahead of it, shared by the threads, at the
        recent pace of a hash, or slower when a running hash has already taken longer (the average lags a
        sudden load)."""
        ahead = max(0, self.pending - self.workers + 1)
        oldest = min(list(self.started.values()), default=None)
        running = time.perf_counter() - oldest if oldest is not None else 0.0
        return ahead / self.workers * max(self.hash_seconds, running)

    async def _run(self, fn: Any, *args: Any) -> Any:
        async with self.slot():
            queued = time.perf_counter()
            return await asyncio.get_running_loop().run_in_executor(self.pool, self._timed, queued, fn, *args)

    def _timed(self, queued: float | None, fn: Any, *args: Any) -> Any:
        """Runs in a hashing thread: `fn`, unless it waited too long for the thread; keeps the pace."""
        thread, started = threading.get_ident(), time.perf_counter()
        if queued is not None and started - queued > self.max_wait:
            raise _overloaded()
        self.started[thread] = started
        try:
            return fn(*args)
        finally:
            del self.started[thread]
            elapsed = time.perf_counter() - started
            self.hash_seconds = 0.8 * self.hash_seconds + 0.2 * elapsed if self.hash_seconds else elapsed

    async def hash(self, password: str) -> str:
        result: str = await self._run(self.argon2.hash, _normalize(password))
        return result

    async def verify(self, stored: str | None, password: str) -> tuple[bool, str | None]:
        """(matches, replacement hash when the stored one is legacy or weaker than today's parameters).

        A missing hash still costs one full verification, so an account without a password, or no account
        at all, takes as long as a wrong password.
        """
        if stored is None:
            await self._run(self._verify_argon2, self._dummy, "\0" + password)
            return False, None
        if stored.startswith(BCRYPT_PREFIXES):
            ok: bool = await self._run(_verify_bcrypt, stored, password)
            return ok, (await self._replacement(password) if ok else None)
        ok = await self._run(self._verify_argon2, stored, password)
        rehash = ok and self.argon2.check_needs_rehash(stored)
        return ok, (await self._replacement(password) if rehash else None)

    async def _replacement(self, password: str) -> str | None:
        """A new hash for a password just verified; None when the pool refuses it now (a later sign-in will
        make it), so a right password is never answered 503 after it was checked."""
        try:
            return await self.hash(password)
        except Problem:
            return None

    async def burn(self, password: str) -> None:
        """Spends what a real verification costs, for unknown accounts."""
        await self.verify(None, password)

    def _verify_argon2(self, stored: str, password: str) -> bool:
        try:
            return self.argon2.verify(stored, _normalize(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _overloaded() -> Problem:
    return Problem(503, "overloaded", "Too many sign-ins at once. Try again shortly.", headers={"Retry-After": "1"})


def _lower_priority() -> None:
    """On Linux a thread has its own nice value: hashing yields the CPU to the event loop."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


def _normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _verify_bcrypt(stored: str, password: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode()[:72], stored.encode())
    except ValueError:
        return False
