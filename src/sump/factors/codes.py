"""Recovery codes: ten random one-time codes, shown once, stored as keyed digests bound to their account.

A digest cannot be re-keyed without its code, so a rotated secret keeps reading the codes it made: each digest
starts with a tag of the secret that made it (`tag`), which tells `sump secret rotate` how many codes still
depend on a previous secret. Codes made before digests were tagged are 32 bytes of HMAC, read as well."""

from __future__ import annotations

import secrets
import uuid

from sump.config import Settings
from sump.kit import sealing

COUNT = 10
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read from paper
LENGTH = 10  # about 49 bits
TAG_BYTES = 4  # the rest of the 32 bytes stored is HMAC-SHA256, truncated to 224 bits


def generate() -> list[str]:
    """`COUNT` codes written `xxxxx-xxxxx`."""
    codes = []
    for _ in range(COUNT):
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalised(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def tag(secret: str) -> bytes:
    """Which secret made a digest (derived from it, so it tells nothing of the secret)."""
    return sealing.keyed_digest(secret, sealing.RECOVERY_CODE_TAGS, b"")[:TAG_BYTES]


def _untagged(secret: str, account_id: uuid.UUID, code: str) -> bytes:
    return sealing.keyed_digest(secret, sealing.RECOVERY_CODES, f"{account_id}:{normalised(code)}".encode())


def digest(secret: str, account_id: uuid.UUID, code: str) -> bytes:
    """What is stored for a new code: the tag of `secret`, then the keyed digest."""
    return tag(secret) + _untagged(secret, account_id, code)[: 32 - TAG_BYTES]


def candidates(settings: Settings, account_id: uuid.UUID, code: str) -> list[bytes]:
    """What `code` may be stored as, most likely first: made under SUMP_SECRET_KEY, then under each previous
    secret; each tagged, then as made before digests were tagged."""
    readers = (settings.secret_key, *settings.previous_secret_keys)
    return [digest(one, account_id, code) for one in readers] + [_untagged(one, account_id, code) for one in readers]
