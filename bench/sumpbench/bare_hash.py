"""Bare argon2id: verifications per second with Sump's parameters (m=19 MiB, t=2, p=1) on N threads, nothing
else running (both libraries release the GIL). Needs only the hashing libraries, so it also runs as a script
under another venv's Python (fastapi-users', whose argon2-cffi is the portable wheel):

    python bare_hash.py LIBRARY THREADS SECONDS     prints the rate

`libsodium` is one of Sump's two engines; `argon2-cffi` is the other as the running venv has it (built for this
machine's CPU by `make`, or the portable wheel in a peer's venv), called as any program calls it; `sump-buffer`
is that engine as Sump's hashing threads run it: the library's core in each thread's own buffer on huge pages
(`sump.kit.argon2_memory`)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

LIBRARIES = ("libsodium", "argon2-cffi", "sump-buffer")
PASSWORD = "bench-password-Xq7!"


def _nothing() -> None:
    pass


def rate(library: str, threads: int, seconds: float) -> float:
    from argon2 import PasswordHasher

    argon2 = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    stored = argon2.hash(PASSWORD)
    release: Callable[[], object] = _nothing  # what a thread does when it is done
    if library == "libsodium":
        import nacl.pwhash

        def verify() -> None:
            nacl.pwhash.argon2id.verify(stored.encode(), PASSWORD.encode())
    elif library == "sump-buffer":
        from sump.kit import argon2_memory

        def verify() -> None:
            argon2_memory.verify_secret(stored, PASSWORD.encode())

        release = argon2_memory.release  # as an idle hashing thread does
    else:

        def verify() -> None:
            argon2.verify(stored, PASSWORD)

    started: list[float] = []
    ready = threading.Barrier(threads, action=lambda: started.append(time.perf_counter()), timeout=120)

    def spin(_: int) -> int:
        try:
            for _ in range(2):  # the allocator's first two rounds of 19 MiB (see `sump.kit.passwords.engine`)
                verify()
        except BaseException:
            ready.abort()  # the other threads stop waiting for this one
            raise
        ready.wait()
        stop_at, n = started[0] + seconds, 0
        while time.perf_counter() < stop_at:
            verify()
            n += 1
        release()
        return n

    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(spin, range(threads)))
    return total / (time.perf_counter() - started[0])


if __name__ == "__main__":
    print(rate(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
