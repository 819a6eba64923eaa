"""The counters the workers of one `sump serve` share: a limit never lets two processes past it together, the
lockout counts in the file exactly as it does in memory, and the file lives only as long as the server."""

from __future__ import annotations

import asyncio
import multiprocessing
import stat
from collections.abc import AsyncIterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from limits import RateLimitItemPerYear
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from sump.kit import shared_counters
from sump.kit.lockout import KNOWN_DEVICE, Lockout, LockoutPolicy
from sump.kit.shared_counters import SharedCounters

LIMIT = RateLimitItemPerYear(3)  # windows of a year: no window ends while the test runs
ADDRESSES = 2000  # limits the two processes reach together, from opposite ends
HITS = 4  # per address and process: together more than the limit allows
DEADLINE_SECONDS = 60
RACES = 5


@pytest.fixture
async def counters(tmp_path: Path) -> AsyncIterator[SharedCounters]:
    storage = SharedCounters(shared_counters.prepare(tmp_path))
    yield storage
    storage.close()


def _hit_many(path: Path, start: Barrier, results: Queue[tuple[int, int]], backwards: bool) -> None:
    """In another process: HITS hits of the limit of each address in turn (from the last address when
    `backwards`, so two processes meet whichever starts first), then increments of one key."""

    async def run() -> tuple[int, int]:
        storage = SharedCounters(path)
        limiter = SlidingWindowCounterRateLimiter(storage)
        start.wait()  # both processes ready: they count at the same time
        allowed = [
            await limiter.hit(LIMIT, "sign-in", f"2001:db8::{address:x}")
            for address in (reversed(range(ADDRESSES)) if backwards else range(ADDRESSES))
            for _ in range(HITS)
        ]
        counts = await asyncio.gather(*(storage.incr("failures", 60) for _ in range(ADDRESSES)))
        storage.close()
        return sum(allowed), max(counts)

    results.put(asyncio.run(run()))


def _race(path: Path) -> list[tuple[int, int]]:
    """Two processes that count in `path` at the same time; what each one saw."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2, timeout=DEADLINE_SECONDS), context.Queue()
    processes = [
        context.Process(target=_hit_many, args=(path, start, results, backwards)) for backwards in (False, True)
    ]
    try:
        for process in processes:
            process.start()
        return [results.get(timeout=DEADLINE_SECONDS) for _ in processes]
    finally:
        for process in processes:
            process.join(DEADLINE_SECONDS)
            if process.is_alive():
                process.kill()


async def _count(path: Path, key: str) -> int:
    storage = SharedCounters(path)
    try:
        return await storage.get(key)
    finally:
        storage.close()


def test_two_processes_share_one_limit_and_one_count(tmp_path: Path) -> None:
    """The processes go through the addresses from opposite ends, so each is first at some of them and lets
    their hits through, unless one was done before the other started (a busy machine): then the race is run
    again, on a fresh file."""
    for race in range(RACES):
        (tmp_path / str(race)).mkdir()
        path = shared_counters.prepare(tmp_path / str(race))
        answers = _race(path)
        assert sum(allowed for allowed, _ in answers) == LIMIT.amount * ADDRESSES
        assert max(count for _, count in answers) == 2 * ADDRESSES
        assert asyncio.run(_count(path, "failures")) == 2 * ADDRESSES
        if all(allowed > 0 for allowed, _ in answers):
            return
    pytest.fail(f"the two processes never counted at the same time in {RACES} races")


async def test_the_lockout_answers_alike_in_memory_and_in_the_shared_file(counters: SharedCounters) -> None:
    policy = LockoutPolicy(free_attempts=2, lock_after=5, window_minutes=15, max_delay_seconds=4, account_ceiling=8)
    lockouts = [Lockout(MemoryStorage(), policy), Lockout(counters, policy)]

    async def both(step: str, *args: str) -> object:
        memory, shared = [await getattr(lockout, step)(*args) for lockout in lockouts]
        assert memory == shared, (step, args)
        return memory

    answers = []
    for _ in range(6):  # past the free attempts (paced), then locked
        answers.append(await both("check", "account", "203.0.113.1"))
        await both("failed", "account", "203.0.113.1")
    for source in ("203.0.113.2", "203.0.113.3"):  # other addresses until the account's ceiling
        await both("failed", "account", source)
    answers += [await both("check", "account", source) for source in ("203.0.113.1", "203.0.113.4", KNOWN_DEVICE)]
    await both("succeeded", "account", KNOWN_DEVICE)
    await both("clear", "account")
    answers.append(await both("check", "account", "203.0.113.1"))
    assert answers == [None, None, None, 1, 2, 900, 3600, 3600, None, None]  # the ceiling holds for the hour


async def test_a_key_past_its_expiry_counts_from_zero(counters: SharedCounters) -> None:
    assert await counters.incr("live", 60) == 1
    ends = await counters.get_expiry("live")
    assert await counters.incr("live", 1) == 2, "a live key keeps counting"
    assert await counters.get_expiry("live") == ends, "and keeps its expiry"
    assert await counters.incr("gone", 0) == 1
    assert await counters.get("gone") == 0, "expired as soon as it was counted"
    assert await counters.incr("gone", 60) == 1
    assert await counters.get_expiry("gone") > ends - 1
    await counters.clear("live")
    assert await counters.get("live") == 0


def test_the_file_is_private_and_removed_when_the_server_stops() -> None:
    with shared_counters.for_workers(None) as path:
        assert path is not None
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.exists()
    assert not path.parent.exists()
    with shared_counters.for_workers("redis://127.0.0.1:6379/0") as none:
        assert none is None, "Redis keeps the counters when it is configured"
