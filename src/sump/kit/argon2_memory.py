"""argon2id by argon2-cffi's reference code in one memory buffer per thread, which `release()` unmaps.

The reference code asks the C allocator for a hash's 19 MiB each time. glibc serves a thread's request from that
thread's arena, and keeps what was freed at the top of the arena for the next hash: no page faults, but no way to
give it back either (`malloc_trim` trims only the main arena's top). Here the library's allocation callback hands
it this thread's own anonymous mapping instead: reused by every hash of a busy thread as before, and returned to
the system whole when the thread idles (`release`), on any allocator.

The mapping asks the kernel for transparent huge pages (`madvise`: a kernel set to `madvise` waits for the
advice, one set to `never` ignores it). A hash reads its 19 MiB in an order it cannot predict, and through 4 KiB
pages nearly every read of its second pass misses the TLB: on 2 MiB pages the same hash runs 4 to 8% faster.
The mapping is not placed on a huge page's boundary: its unaligned ends stay small pages (8 huge pages of 19 MiB),
and a buffer aligned by hand (all of it on huge pages) measured no faster.

Strings are read here only in the form Sump writes (argon2id, version 1.3, canonical unpadded base64); any other
Argon2 string is left to the caller (`verify` answers None), which reads it with argon2-cffi's own parser.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import hmac
import mmap
import os
import re
import threading
from typing import Any

from argon2.low_level import ARGON2_VERSION, Type, core, error_to_str, ffi

OK, ALLOCATION_FAILED, DEFAULT_FLAGS = 0, -22, 0  # argon2.h: ARGON2_OK, ARGON2_MEMORY_ALLOCATION_ERROR
KEPT_AT_MOST = 64 * 2**20  # bytes a thread's buffer may keep between hashes (Sump's own hash needs 19 MiB)
_PHC = re.compile(
    r"\$argon2id\$v=19\$m=([1-9][0-9]{0,7}),t=([1-9][0-9]{0,3}),p=([1-9][0-9]?)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)
_local = threading.local()
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_MAP_FAILED = ctypes.c_void_p(-1).value
_HUGE_PAGES: int | None = getattr(mmap, "MADV_HUGEPAGE", None)  # Linux's advice; other systems have none


class _Buffer:
    """An anonymous mapping that the hashes of one thread write into. Mapped through libc rather than Python's
    `mmap` object, which the interpreter unmaps when it tears down at exit: a daemon hashing thread may still be
    writing into it then, and would crash the process. Only `close` unmaps it."""

    def __init__(self, size: int) -> None:
        address = _libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if address in (None, _MAP_FAILED):
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        if _HUGE_PAGES is not None:  # Linux: where the kernel cannot take the advice, 4 KiB pages
            _libc.madvise(address, size, _HUGE_PAGES)
        self.size, self.address = size, address
        self.pointer = ffi.cast("uint8_t *", address)

    def close(self) -> None:
        _libc.munmap(self.address, self.size)


def _allocate(memory: Any, size: int) -> int:
    buffer: _Buffer | None = getattr(_local, "buffer", None)
    if buffer is None or buffer.size < size:
        if buffer is not None:  # a stored hash of more memory than Sump's
            release()  # forgotten first: should the larger one not map, no next hash writes into this one
        buffer = _local.buffer = _Buffer(size)
    memory[0] = buffer.pointer
    return 0


def _keep(_memory: Any, _size: int) -> None:
    """The library has wiped the memory; the buffer stays for the thread's next hash, unless it is larger than a
    thread keeps (a stored hash of a higher memory cost, imported, say, does not hold its memory after it)."""
    if held() > KEPT_AT_MOST:
        release()


_ALLOCATE = ffi.callback("allocate_fptr", _allocate, onerror=lambda *_: ALLOCATION_FAILED)
_KEEP = ffi.callback("deallocate_fptr", _keep)


def release() -> bool:
    """Unmaps this thread's buffer, if it has one (the next hash maps a fresh one); whether it had."""
    buffer: _Buffer | None = getattr(_local, "buffer", None)
    _local.buffer = None
    if buffer is not None:
        buffer.close()
    return buffer is not None


def held() -> int:
    """Bytes this thread's buffer maps."""
    buffer: _Buffer | None = getattr(_local, "buffer", None)
    return buffer.size if buffer is not None else 0


def hash_secret(secret: bytes, time_cost: int, memory_kib: int, salt_length: int, digest_length: int) -> str:
    """The PHC string of an argon2id hash of `secret` with one lane and a fresh random salt."""
    salt = os.urandom(salt_length)
    digest = _digest(secret, salt, time_cost, memory_kib, 1, digest_length)
    return f"$argon2id$v=19$m={memory_kib},t={time_cost},p=1${_encode(salt)}${_encode(digest)}"


def verify_secret(stored: str, secret: bytes) -> bool | None:
    """Whether `secret` matches `stored`; None when `stored` is not in the form read here."""
    match = _PHC.fullmatch(stored)
    if match is None:
        return None
    memory_kib, time_cost, lanes = (int(match[n]) for n in (1, 2, 3))
    salt, digest = _decode(match[4]), _decode(match[5])
    if salt is None or digest is None:
        return None
    try:
        computed = _digest(secret, salt, time_cost, memory_kib, lanes, len(digest))
    except ValueError:  # parameters the library refuses: a damaged string matches nothing
        return False
    return hmac.compare_digest(computed, digest)


def _digest(secret: bytes, salt: bytes, time_cost: int, memory_kib: int, lanes: int, length: int) -> bytes:
    out = ffi.new("uint8_t[]", length)
    context = ffi.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": length,
            "pwd": ffi.from_buffer("uint8_t[]", secret),
            "pwdlen": len(secret),
            "salt": ffi.from_buffer("uint8_t[]", salt),
            "saltlen": len(salt),
            "secret": ffi.NULL,
            "secretlen": 0,
            "ad": ffi.NULL,
            "adlen": 0,
            "t_cost": time_cost,
            "m_cost": memory_kib,
            "lanes": lanes,
            "threads": lanes,
            "version": ARGON2_VERSION,
            "allocate_cbk": _ALLOCATE,
            "free_cbk": _KEEP,
            "flags": DEFAULT_FLAGS,  # the secret is Python's bytes: the library must not wipe it
        },
    )
    status = core(context, Type.ID.value)
    if status == ALLOCATION_FAILED:  # not a mismatch: a sign-in fails loudly rather than count a wrong password
        raise MemoryError(error_to_str(status))
    if status != OK:
        raise ValueError(error_to_str(status))
    return bytes(out)


def _encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _decode(text: str) -> bytes | None:
    """Unpadded base64 in its one canonical spelling, or None."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        return None
    return raw if _encode(raw) == text else None
