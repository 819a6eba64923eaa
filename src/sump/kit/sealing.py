"""Secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256) from SUMP_SECRET_KEY for one purpose, with
associated data that binds each sealed value to its row (a signing key's kid, a factor's id). Signing keys
and TOTP seeds are sealed the same way, each purpose under its own derived key.

A rotated secret (`docs/secret-rotation.md`): values are always written under SUMP_SECRET_KEY and read under it
first, then under each of SUMP_PREVIOUS_SECRET_KEYS (`unseal_any`; cookies: `crypto.unsign_cookie`), so reading
costs what it did before a rotation whenever the current secret is the one that wrote."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
SIGNING_KEYS = b"signing-key-encryption"
FACTOR_SECRETS = b"factor-secret-encryption"
RECOVERY_CODES = b"recovery-code-digest"
RECOVERY_CODE_TAGS = b"recovery-code-tag"
TYPED_IDENTIFIERS = b"typed-identifier-digest"


class Unreadable(Exception):
    """The value was not sealed under this secret (or for this row)."""


@cache
def derived_key(secret: str, purpose: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sump", info=purpose)
    return hkdf.derive(secret.encode())


def seal(secret: str, purpose: bytes, plaintext: bytes, bound_to: bytes) -> bytes:
    """The nonce, then the ciphertext and its tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(derived_key(secret, purpose)).encrypt(nonce, plaintext, bound_to)


def unseal(secret: str, purpose: bytes, sealed: bytes, bound_to: bytes) -> bytes:
    """The plaintext; `Unreadable` when the secret, the purpose or the row is not the one it was sealed for."""
    try:
        return AESGCM(derived_key(secret, purpose)).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], bound_to)
    except InvalidTag:
        raise Unreadable from None


def unseal_any(
    secret: str, previous: Sequence[str], purpose: bytes, sealed: bytes, bound_to: bytes
) -> tuple[str, bytes]:
    """The secret that opens the value (`secret` first, then each of `previous`) and the plaintext; `Unreadable`
    when none does."""
    for candidate in (secret, *previous):
        try:
            return candidate, unseal(candidate, purpose, sealed, bound_to)
        except Unreadable:
            continue
    raise Unreadable


def resealed(secret: str, previous: Sequence[str], purpose: bytes, sealed: bytes, bound_to: bytes) -> bytes | None:
    """The value sealed anew under `secret` when one of `previous` is what opens it; None when `secret` already
    does; `Unreadable` when none does."""
    opener, plaintext = unseal_any(secret, previous, purpose, sealed, bound_to)
    return None if opener == secret else seal(secret, purpose, plaintext, bound_to)


def keyed_digest(secret: str, purpose: bytes, value: bytes) -> bytes:
    """HMAC-SHA256 under a derived key: for short codes that a plain hash would not protect from guessing
    offline (the digest is worthless without the secret)."""
    return hmac.new(derived_key(secret, purpose), value, hashlib.sha256).digest()
