"""Recovery codes: ten random one-time codes, shown once, stored as keyed digests bound to their account."""

from __future__ import annotations

import secrets
import uuid

from sump.kit import sealing

COUNT = 10
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read from paper
LENGTH = 10  # about 49 bits


def generate() -> list[str]:
    """`COUNT` codes written `xxxxx-xxxxx`."""
    codes = []
    for _ in range(COUNT):
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalised(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def digest(secret: str, account_id: uuid.UUID, code: str) -> bytes:
    return sealing.keyed_digest(secret, sealing.RECOVERY_CODES, f"{account_id}:{normalised(code)}".encode())
