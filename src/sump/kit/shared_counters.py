"""Where rate-limit and lockout counters live: Redis when `SUMP_REDIS_URL` is set (every node shares them);
else, for the workers of one `sump serve`, a SQLite file that the supervisor makes in a private directory
(mode 0700) and removes when it stops; else (one process) memory.

The file is a `limits` storage, so the per-IP strategy (sliding window counter) and the lockout's `incr`,
`get`, `get_expiry` and `clear` behave exactly as with the other storages. Each operation is one statement, or
one `BEGIN IMMEDIATE` transaction for a limit's read-then-count, so two workers never both take the last place
under a limit. SQLite's own file locks do the locking; an operation that finds the file locked by the other
worker waits for it on a thread, never on the event loop. Nothing is synced to disk: the counters live as long
as the server, and a worker that is replaced finds them as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar, cast

from limits.aio.storage import MemoryStorage, SlidingWindowCounterSupport, Storage
from limits.storage import storage_from_string
from limits.storage.base import TimestampedSlidingWindow

FILE_NAME = "counters.sqlite"
BUSY_TIMEOUT_SECONDS = 5.0  # a transaction here lasts microseconds; only a stopped worker could hold one longer
PURGE_INTERVAL_SECONDS = 60.0
T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL)"
    " WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS counters_expires ON counters (expires)",
)
# A key past its expiry counts from zero again, with a new expiry; a live one keeps its expiry.
_INCR = """
INSERT INTO counters (key, value, expires) VALUES (:key, :amount, :now + :expiry)
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN counters.expires <= :now THEN excluded.value ELSE counters.value + excluded.value END,
    expires = CASE WHEN counters.expires <= :now THEN excluded.expires ELSE counters.expires END
RETURNING value
"""

_attached: Path | None = None


def prepare(directory: Path) -> Path:
    """Creates the counters' file in `directory` and answers its path."""
    path = directory / FILE_NAME
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            db.execute(statement)
    return path


@contextlib.contextmanager
def for_workers(redis_url: str | None) -> Iterator[Path | None]:
    """The counters' file for the workers of one server, removed when it stops; None when Redis keeps them."""
    if redis_url:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="sump-counters-"))  # only this user may open it
    try:
        yield prepare(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def attach(path: Path | None) -> None:
    """Called in a worker process before the application is made: its counters are those of `path`."""
    global _attached
    _attached = path


def counter_storage(redis_url: str | None) -> Storage:
    """Redis when configured, else the file of this server's workers, else this process's memory."""
    if redis_url:
        return cast(Storage, storage_from_string("async+" + redis_url, implementation="redispy"))
    if _attached is not None:
        return SharedCounters(_attached)
    return MemoryStorage()


class SharedCounters(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """A `limits` storage on a SQLite file that several processes open at once.

    Each operation first runs at once, on a connection that never waits for a lock (microseconds: the event loop
    hardly notices); only when the other worker holds the file's write lock does it run again on this storage's
    thread, whose connection waits for the lock, so the event loop itself never does."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.now = self._connect(path, 0)
        self.waiting = self._connect(path, BUSY_TIMEOUT_SECONDS)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="sump-counters")
        self.purged = 0.0

    @staticmethod
    def _connect(path: Path, timeout: float) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous=OFF")
        return db

    async def _run(self, operation: Callable[..., T], *args: object) -> T:
        try:
            return operation(self.now, *args)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        # Refused before it changed anything: a statement on its own, or the transaction's first one.
        return await asyncio.get_running_loop().run_in_executor(self.thread, operation, self.waiting, *args)

    def close(self) -> None:
        self.thread.shutdown(wait=True)
        self.now.close()
        self.waiting.close()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        return await self._run(self._incr, key, expiry, amount, time.time())

    async def get(self, key: str) -> int:
        return await self._run(self._get, key)

    async def get_expiry(self, key: str) -> float:
        return await self._run(self._get_expiry, key)

    async def clear(self, key: str) -> None:
        await self._run(self._delete, key)

    async def check(self) -> bool:
        return await self._run(lambda db: db.execute("SELECT 1").fetchall() == [(1,)])

    async def reset(self) -> int | None:
        return await self._run(lambda db: db.execute("DELETE FROM counters").rowcount)

    async def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        return await self._run(self._acquire, key, limit, expiry, amount)

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        return await self._run(self._window, key, expiry, time.time())

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        await self._run(self._delete, *self.sliding_window_keys(key, expiry, time.time()))

    # Each on one connection, at once or on the storage's thread:

    def _incr(self, db: sqlite3.Connection, key: str, expiry: float, amount: int, now: float) -> int:
        if now - self.purged > PURGE_INTERVAL_SECONDS:  # first: refused, it leaves the count to the retry
            self.purged = now
            db.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        rows = db.execute(_INCR, {"key": key, "amount": amount, "now": now, "expiry": expiry}).fetchall()
        return int(rows[0][0])

    def _get(self, db: sqlite3.Connection, key: str) -> int:
        rows = db.execute("SELECT value FROM counters WHERE key = ? AND expires > ?", (key, time.time()))
        return next((int(value) for (value,) in rows), 0)

    def _get_expiry(self, db: sqlite3.Connection, key: str) -> float:
        rows = db.execute("SELECT expires FROM counters WHERE key = ?", (key,))
        return next((float(expires) for (expires,) in rows), time.time())

    def _delete(self, db: sqlite3.Connection, *keys: str) -> None:
        db.executemany("DELETE FROM counters WHERE key = ?", [(key,) for key in keys])

    def _acquire(self, db: sqlite3.Connection, key: str, limit: int, expiry: int, amount: int) -> bool:
        """The weighted count of this window and the last, and the hit if it fits, in one transaction."""
        db.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            previous, previous_ttl, current, _ = self._window(db, key, expiry, now)
            fits = math.floor(previous * previous_ttl / expiry + current) + amount <= limit
            if fits:
                self._incr(db, self.sliding_window_keys(key, expiry, now)[1], 2 * expiry, amount, now)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return fits

    def _window(self, db: sqlite3.Connection, key: str, expiry: int, now: float) -> tuple[int, float, int, float]:
        """As `limits`' memory storage: (previous count, its time to live, current count, its time to live)."""
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        rows = db.execute(
            "SELECT key, value FROM counters WHERE key IN (?, ?) AND expires > ?", (previous_key, current_key, now)
        )
        counts = {row_key: int(value) for row_key, value in rows}
        previous, current = counts.get(previous_key, 0), counts.get(current_key, 0)
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl
