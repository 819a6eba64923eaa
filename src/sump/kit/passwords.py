"""Password hashing off the event loop, in a bounded pool shared fairly between tenants, that refuses at once
what it could not start within a few seconds instead of queueing without end.

argon2id with the OWASP parameters (m=19 MiB, t=2, p=1), by whichever of two engines costs this machine less
(`engine()`): libsodium, vectorised for any CPU, but mapping fresh memory for each hash, whose 19 MiB of page
faults cost about what the hash computes on a virtual machine; or argon2-cffi's reference code, which reuses one
buffer per thread (`kit.argon2_memory`, unmapped when the thread idles) and is as vectorised as its bindings were
built (`make` builds them for the machine's CPU; the portable wheel's are not). The cheaper hash lets a core sign
in more users at the same cost to an attacker, whose own tools are vectorised anyway. The PHC strings are the
standard ones, the same from either engine: any argon2id verifier reads them, and argon2-cffi also verifies the
Argon2 strings libsodium does not (argon2d, version 1.0) and says which stored hashes are weaker than today's.
bcrypt hashes (imported from the original Sump) verify with its 72-byte rule; both are replaced by argon2id on the
next successful sign-in.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import math
import os
import re
import secrets
import threading
import time
import unicodedata
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import bcrypt
import nacl.pwhash
import structlog
from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from nacl.exceptions import InvalidkeyError

from sump.kit import argon2_memory, metrics
from sump.kit.errors import Problem

T = TypeVar("T")
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
# What libsodium verifies, whatever the parameters: argon2id 1.3 strings of at most 127 characters (a longer
# salt or digest than Sump's makes a longer one, left to argon2-cffi).
SODIUM_PREFIX, SODIUM_MAX_LENGTH = "$argon2id$v=19$", 127
TIME_COST, MEMORY_KIB, SALT_LENGTH, DIGEST_LENGTH = 2, 19456, 16, 32
LIBSODIUM, REFERENCE = "libsodium", "argon2-cffi"
ENGINES = (LIBSODIUM, REFERENCE)
# A hashing thread idle this long unmaps the reference engine's 19 MiB; a busy one keeps them between hashes.
IDLE_RELEASE_SECONDS = 10.0
# The reference engine is kept only when its hash costs clearly less: libsodium's is the same on every build.
REFERENCE_WHEN_BELOW = 0.9
_REFERENCE = Argon2Hasher(
    time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=1, hash_len=DIGEST_LENGTH, salt_len=SALT_LENGTH
)
# A request is let in when its hash would start within ADMISSION_WAIT_SECONDS at the recent pace; one that
# waited past MAX_HASH_WAIT_SECONDS all the same (the pace lags a sudden load) is refused when its turn comes.
ADMISSION_WAIT_SECONDS = 3.0
MAX_HASH_WAIT_SECONDS = 4.0
# A pace no hash has renewed for this long is of a load that has passed (the pool was idle since): a burst is
# then judged by the fastest hash seen, corrected by the running hashes as they go, not by that old load.
PACE_MEMORY_SECONDS = 10.0
PACE_WEIGHT = 0.2  # of the latest hash in the moving average of a hash's wall time
# The pace before any hash has ended (the pool is still being prepared): a hash's time on a slow machine.
NOMINAL_HASH_SECONDS = 0.05
# How long the process's exit waits for a hashing thread to end its hash (and a pool its preparation).
EXIT_WAIT_SECONDS = 10.0
_holding_slot: ContextVar[str | None] = ContextVar("sump_holding_hash_slot", default=None)
_share: ContextVar[str] = ContextVar("sump_hash_share", default="")


def draw_on_share(key: str) -> None:
    """Says whose share of the hashing queue this request's hashes draw on (the tenant or environment its
    path names; `kit.edge` sets it for every write)."""
    _share.set(key)


@dataclass
class _Job:
    queued: float
    fn: Any
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class PasswordHasher:
    """At most `workers` hashes run at once (one thread each, at normal priority); a request is let in when its
    hash would start within `admission_wait` seconds, and refused at once otherwise (503 with an honest
    `Retry-After`: when the queue ahead of it will have shrunk enough).

    A request that will hash takes its place first (`slot()`), before it touches the database, so a flood of
    sign-ins can neither hold database connections while it waits nor make anyone wait long. The queue is
    shared fairly: each tenant or environment (`draw_on_share`) has its own line, and the threads take the
    lines in turn, so one flooded tenant's line grows (and its newcomers are refused) while another's hash
    starts after at most one job of each busy line. The wait a newcomer is told is the one of its own line:
    the jobs of its share ahead of it, and of each other share at most one more than that.
    """

    def __init__(
        self,
        workers: int | None = None,
        queue_size: int = 256,
        max_wait: float = MAX_HASH_WAIT_SECONDS,
        admission_wait: float | None = None,
        by: str | None = None,
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.capacity = self.workers + queue_size  # a bound on memory, shared fairly; the wait is what admits
        self.max_wait = max_wait
        self.admission_wait = admission_wait if admission_wait is not None else max_wait * 0.75
        self.pending = 0
        self.shares: dict[str, int] = {}  # places held, by share
        self.hash_seconds = 0.0  # moving average of a hash's wall time in this pool
        self.paced_at = 0.0  # when it last changed (time.perf_counter)
        self.fastest = float("inf")  # the shortest hash seen: the cost of one without contention
        self.started: dict[int, float] = {}  # thread id -> when its current hash began
        self._places, self._waits = metrics.of().hashing_places, metrics.of().hashing_wait
        if by not in (None, *ENGINES):
            raise ValueError(f"unknown argon2id engine {by!r}")
        self._engine, self._dummy = by or "", ""
        self._prepared = threading.Event()
        self._lines: dict[str, deque[_Job]] = {}
        self._turns: deque[str] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, args=(n == 0,), name=f"sump-hash-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        _POOLS.add(self)

    @property
    def engine(self) -> str:
        """The argon2id engine of this pool (once the pool is prepared)."""
        self._prepared.wait()
        return self._engine

    def _prepare(self) -> None:
        """Runs in the first hashing thread before any job: the engine (measured here unless given) and the
        dummy hash an unknown account is verified against, made by that engine. A server answers while the pool
        prepares; a hash asked for meanwhile waits for it. Should it fail, the pool still serves, and an unknown
        account's verification fails loudly rather than answering at once without its dummy."""
        try:
            self._engine = self._engine or engine()
            self._dummy = self._timed(None, _hash_argon2id, "sump-dummy-password", self._engine)
            argon2_memory.release()  # until the first sign-in: an idle server holds no hash's memory
        except Exception:
            structlog.get_logger("sump.passwords").exception("hashing pool not prepared")
        finally:
            self._prepared.set()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Holds one place in the pool for the hashing this task does inside; 503 at once when the wait would
        be too long."""
        if _holding_slot.get() is not None:
            yield
            return
        share = _share.get()
        refused = self.refusal()
        if refused is not None:
            raise refused
        self.pending += 1
        self._places.inc()
        self.shares[share] = self.shares.get(share, 0) + 1
        _holding_slot.set(share)
        try:
            yield
        finally:
            _holding_slot.set(None)
            self.pending -= 1
            self._places.dec()
            left = self.shares[share] - 1
            if left:
                self.shares[share] = left
            else:
                del self.shares[share]

    def refusal(self) -> Problem | None:
        """The 503 a newcomer of this request's share gets now, or None when it would be let in."""
        share = _share.get()
        if self.pending >= self.capacity and (self.pending >= 2 * self.capacity or self._holds_its_part(share)):
            return _overloaded(self._pace())
        wait = self.expected_wait(share)
        return _overloaded(wait - self.admission_wait + self._pace()) if wait > self.admission_wait else None

    def _holds_its_part(self, share: str) -> bool:
        """Whether `share` holds an equal part of the places (among the shares holding any, its own counted) or
        more. When hashes are fast, a flood fills the places before its wait grows long; a full pool still lets
        every other share in up to its part, and twice the places bound the memory whatever the shares."""
        held = self.shares.get(share, 0)
        return held * (len(self.shares) + (0 if held else 1)) >= self.capacity

    def expected_wait(self, share: str = "") -> float:
        """Seconds a newcomer of `share` would wait for a thread: the places ahead of it in the turns (its own
        line's, and of every other line at most one more), shared by the threads, at the recent pace."""
        mine = self.shares.get(share, 0)
        ahead = mine + sum(min(held, mine + 1) for key, held in self.shares.items() if key != share)
        if ahead < self.workers:
            return 0.0
        return (ahead - self.workers + 1) / self.workers * self._pace()

    def _pace(self) -> float:
        """A hash's recent wall time (the fastest seen when no hash has ended for `PACE_MEMORY_SECONDS`), or
        longer when a running hash has already taken longer: the average lags a sudden load, so the oldest
        running hash counts now as the one more sample it will be once it ends. Not more: a burst's arrival
        holds its first hash back for a moment, and that one late hash is no pace for all the hashes behind it."""
        now = time.perf_counter()
        oldest = min(list(self.started.values()), default=None)
        running = now - oldest if oldest is not None else 0.0
        recent = self.hash_seconds if now - self.paced_at < PACE_MEMORY_SECONDS else self.fastest
        if math.isinf(recent):  # no hash has ended yet
            return NOMINAL_HASH_SECONDS
        return max(recent, (1 - PACE_WEIGHT) * recent + PACE_WEIGHT * running)

    async def run(self, fn: Any, *args: Any) -> Any:
        """`fn(*args)` on a hashing thread, in this task's place (one is taken if it holds none)."""
        async with self.slot():
            return await self.enqueue(_holding_slot.get() or "", fn, *args)

    def enqueue(self, share: str, fn: Any, *args: Any) -> asyncio.Future[Any]:
        """Puts `fn(*args)` at the end of `share`'s line (no place is taken: `run` takes one first)."""
        loop = asyncio.get_running_loop()
        job = _Job(time.perf_counter(), fn, args, loop, loop.create_future())
        with self._ready:
            line = self._lines.get(share)
            if line is None:
                line = self._lines[share] = deque()
                self._turns.append(share)
            line.append(job)
            self._ready.notify()
        return job.future

    def _serve(self, first: bool) -> None:
        """A hashing thread: the next job of the next line in turn, once the pool is prepared."""
        # Linux: its name where `top -H` and /proc show threads.
        with contextlib.suppress(OSError), open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as comm:
            comm.write(threading.current_thread().name)
        if first:
            self._prepare()
        self._prepared.wait()
        while True:
            with self._ready:
                while not self._turns and not self._closed:
                    if not self._ready.wait(IDLE_RELEASE_SECONDS if argon2_memory.held() else None):
                        break
                if self._closed:
                    break
                job = self._take() if self._turns else None
            if job is None:  # idle since the last hash: its memory goes back, outside the lock
                argon2_memory.release()
                continue
            try:
                outcome, failed = self._timed(job.queued, job.fn, *job.args), False
            except BaseException as exc:  # handed to the waiting request
                outcome, failed = exc, True
            job.loop.call_soon_threadsafe(_settle, job.future, outcome, failed)
        argon2_memory.release()  # the pool is closed

    def _take(self) -> _Job:
        """The next job of the next line in turn (under `_ready`)."""
        share = self._turns.popleft()
        line = self._lines[share]
        job = line.popleft()
        if line:
            self._turns.append(share)
        else:
            del self._lines[share]
        return job

    def _timed(self, queued: float | None, fn: Any, *args: Any) -> Any:
        """Runs in a hashing thread: `fn`, unless it waited too long for the thread; keeps the pace."""
        thread, started = threading.get_ident(), time.perf_counter()
        if queued is not None:
            self._waits.observe(started - queued)
            if started - queued >= self.max_wait:
                raise _overloaded(self._pace())
        self.started[thread] = started
        try:
            return fn(*args)
        finally:
            del self.started[thread]
            self.paced_at = time.perf_counter()
            elapsed = self.paced_at - started
            average = (1 - PACE_WEIGHT) * self.hash_seconds + PACE_WEIGHT * elapsed
            self.hash_seconds = average if self.hash_seconds else elapsed
            self.fastest = min(self.fastest, elapsed)

    async def hash(self, password: str) -> str:
        result: str = await self.run(self._hash_argon2id, password)
        return result

    async def verify(
        self, stored: str | None, password: str, legacy_cost: int | None = None
    ) -> tuple[bool, str | None]:
        """(matches, replacement hash when the stored one is legacy or weaker than today's parameters).

        A missing hash still costs one full verification, so an account without a password, or no account
        at all, takes as long as a wrong password. In a pool that holds imported bcrypt hashes (`legacy_cost`,
        their highest cost), every check costs one bcrypt check at that cost and one argon2id check, whatever
        the hash or its absence, so none of the three stands apart from the others.
        """
        legacy = stored is not None and stored.startswith(BCRYPT_PREFIXES)
        if legacy_cost is not None:
            ok: bool = await self.run(self._verify_both, stored, password, legacy_cost)
        elif stored is None:
            ok = await self.run(self._verify_dummy, "\0" + password)
        elif legacy:
            ok = await self.run(_verify_bcrypt, stored, password)
        else:
            ok = await self.run(self._verify_argon2, stored, password)
        rehash = ok and stored is not None and (legacy or _REFERENCE.check_needs_rehash(stored))
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

    # These run in the hashing threads, which take no job before the pool is prepared.
    def _hash_argon2id(self, password: str) -> str:
        return _hash_argon2id(password, self._engine)

    def _verify_argon2(self, stored: str, password: str) -> bool:
        return verify_argon2(stored, password, self._engine)

    def _verify_dummy(self, password: str) -> bool:
        if not self._dummy:
            raise RuntimeError("the hashing pool has no dummy hash: its preparation failed")
        return verify_argon2(self._dummy, password, self._engine)

    def _verify_both(self, stored: str | None, password: str, cost: int) -> bool:
        """bcrypt's work at `cost` and an argon2id check, one of them against `stored` when there is one. A bcrypt
        hash of a lower cost c is checked, then bcrypt runs on nothing at each cost from c to `cost` - 1: its work
        doubles with each step, so the sum is the work at `cost`."""
        cost = min(max(cost, MIN_BCRYPT_COST), MAX_BCRYPT_COST)
        own = bcrypt_cost(stored)
        if own is None:  # an argon2id hash is checked; no hash, or one of no known kind, costs the dummy's check
            _verify_bcrypt(_dummy_bcrypt(cost), password)
            if stored is not None and stored.startswith(ARGON2_PREFIX):
                return self._verify_argon2(stored, password)
            return self._verify_dummy("\0" + password)
        assert stored is not None
        ok = _verify_bcrypt(stored, password)
        for lower in range(own, cost):
            _verify_bcrypt(_dummy_bcrypt(lower), password)
        self._verify_dummy("\0" + password)
        return ok

    def close(self) -> None:
        """Ends the threads; jobs still queued are refused."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
            queued = [job for line in self._lines.values() for job in line]
            self._lines.clear()
            self._turns.clear()
        for job in queued:
            with contextlib.suppress(RuntimeError):  # its loop is already closed
                job.loop.call_soon_threadsafe(_settle, job.future, _overloaded(1), True)


_POOLS: weakref.WeakSet[PasswordHasher] = weakref.WeakSet()


@atexit.register
def _end_hashing_before_exit() -> None:
    """Closes every pool at the process's exit and waits for its threads, before the interpreter tears down: a
    daemon hashing thread still inside argon2 or libsodium then (a server stopped while its pool prepares, a script
    done early) crashed the process (SIGSEGV, SIGILL) when it came back to Python."""
    for pool in list(_POOLS):
        pool.close()
        for thread in pool._threads:
            thread.join(EXIT_WAIT_SECONDS)


def _settle(future: asyncio.Future[Any], outcome: Any, failed: bool) -> None:
    if future.done():  # the request went away
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _overloaded(retry_after: float) -> Problem:
    """503 with the seconds after which a place is expected to be free (at least one)."""
    seconds = max(1, math.ceil(retry_after))
    return Problem(
        503, "overloaded", "Too many sign-ins at once. Try again shortly.", headers={"Retry-After": str(seconds)}
    )


def _hash_argon2id(password: str, by: str) -> str:
    secret = _normalize(password).encode()
    if by == LIBSODIUM:
        return nacl.pwhash.argon2id.str(secret, opslimit=TIME_COST, memlimit=MEMORY_KIB * 1024).decode()
    return argon2_memory.hash_secret(secret, TIME_COST, MEMORY_KIB, SALT_LENGTH, DIGEST_LENGTH)


def verify_argon2(stored: str, password: str, by: str) -> bool:
    """Whether `password` matches an Argon2 PHC string, verified by the engine `by` where it can."""
    try:
        secret = _normalize(password).encode()
        if by == LIBSODIUM and stored.startswith(SODIUM_PREFIX) and len(stored) <= SODIUM_MAX_LENGTH:
            return nacl.pwhash.argon2id.verify(stored.encode(), secret)
        matches = argon2_memory.verify_secret(stored, secret)
        return _REFERENCE.verify(stored, secret) if matches is None else matches
    except (InvalidkeyError, ValueError, VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def engine() -> str:
    """The argon2id engine of this process: measured once (`_measured_engine`), whoever asks first."""
    with _MEASURING:
        return _measured_engine()


_MEASURING = threading.Lock()


@functools.cache
def _measured_engine() -> str:
    """The engine whose hash costs less CPU here, by the least of two hashes of each, before a server forks its
    workers. The reference engine's are its second and third: its first maps the thread's buffer afresh, which a
    busy hashing thread's hashes reuse. The least of two, because a single hash is at the mercy of whatever else
    the machine runs at that moment: an unlucky libsodium hash (its page faults) handed the choice to a reference
    engine slower as a rule, and an unlucky reference hash, measured beside another server's start, made it look
    0.91 of libsodium's where ten hashes said 0.83, and kept the engine that signed in a fifth fewer."""
    _hash_argon2id("sump-engine-probe", REFERENCE)
    costs = {by: min(_cpu_of_hash(by) for _ in range(2)) for by in ENGINES}
    chosen = cheaper(costs[LIBSODIUM], costs[REFERENCE])
    argon2_memory.release()
    structlog.get_logger("sump.passwords").info(
        "password hashing engine", engine=chosen, **{f"{by}_ms": cost * 1000 for by, cost in costs.items()}
    )
    return chosen


def cheaper(libsodium: float, reference: float) -> str:
    """The engine to keep, from the CPU seconds of one hash by each."""
    return REFERENCE if reference < REFERENCE_WHEN_BELOW * libsodium else LIBSODIUM


def _cpu_of_hash(by: str) -> float:
    started = time.thread_time()
    _hash_argon2id("sump-engine-probe", by)
    return time.thread_time() - started


def _normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
MIN_BCRYPT_COST, MAX_BCRYPT_COST = 4, 31
BCRYPT_HASH_LENGTH = 60
ARGON2_PREFIX = "$argon2"


def bcrypt_cost_sql(column: Any) -> Any:
    """`bcrypt_cost` in SQL, for PostgreSQL and SQLite alike: the cost of a hash of bcrypt's prefix and length
    whose cost is one of 04 to 31 (compared as text, exactly, before it is read as a number: a CASE keeps that
    order), else NULL."""
    from sqlalchemy import Integer, and_, case, cast, func

    digits = func.substr(column, 5, 2)
    well_formed = and_(
        func.substr(column, 1, 4).in_(BCRYPT_PREFIXES),
        func.length(column) == BCRYPT_HASH_LENGTH,
        func.substr(column, 7, 1) == "$",
        digits.in_([f"{cost:02d}" for cost in range(MIN_BCRYPT_COST, MAX_BCRYPT_COST + 1)]),
    )
    return case((well_formed, cast(digits, Integer)))


def bcrypt_cost(stored: str | None) -> int | None:
    """The cost of a well-formed bcrypt hash (`$2b$12$…`: 12), None for anything else."""
    found = BCRYPT_HASH.fullmatch(stored) if stored else None
    return int(found.group(1)) if found else None


@functools.cache
def _dummy_bcrypt(cost: int) -> str:
    """A bcrypt hash at `cost` of nothing anyone types, made once per process and cost (one bcrypt hash)."""
    return bcrypt.hashpw(secrets.token_bytes(32), bcrypt.gensalt(rounds=cost)).decode()


def _verify_bcrypt(stored: str, password: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode()[:72], stored.encode())
    except ValueError:
        return False
