"""Declarative base, naming conventions and column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, LargeBinary, MetaData, SmallInteger, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
NULLABLE_JSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")  # None is SQL NULL


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no offset, so it is stored as naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


DECOY_SEED_BYTES = 32


def new_decoy_seed() -> bytes:
    return secrets.token_bytes(DECOY_SEED_BYTES)


class DecoySeeded:
    """A tenant's or environment's own random key for the passkey decoys it offers an unknown identifier
    (`factors.passkeys`). It is not derived from `SUMP_SECRET_KEY`, so a decoy stays the same across a rotation
    (one that changed would single out the accounts without a passkey); it is stored as it is, since whoever
    reads the database knows the accounts already.

    `decoy_shape` (the length of a credential id, and transports) makes decoys look like the pool's passkeys:
    its first passkey's of a common authenticator's shape, or, for pools that had passkeys before it was kept,
    the common shape most of their newest had. It is set once: a shape that followed the pool's passkeys would
    change every decoy while real lists stay, and whoever can register passkeys could move it at will.

    `legacy_hash_cost` is the highest bcrypt cost among the password hashes an import brought into the pool (None:
    it has none). While it is set, every password check of the pool costs a bcrypt check at that cost and an
    argon2id one (`kit.passwords.PasswordHasher.verify`): an account still waiting for its first sign-in since the
    import, whose hash is bcrypt, stands apart neither from an unknown identifier nor from an account already
    upgraded to argon2id."""

    decoy_seed: Mapped[bytes] = mapped_column(LargeBinary(DECOY_SEED_BYTES), default=new_decoy_seed)
    decoy_shape: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)
    legacy_hash_cost: Mapped[int | None] = mapped_column(SmallInteger)


_RANDOM_BITS = 74  # rand_a (12) and rand_b (62): what is not the time, the version or the variant
_last_id = (0, 0)  # (milliseconds, random part) of this process's latest id
_id_lock = threading.Lock()


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): new rows sort by creation, so one column serves as a cursor.

    Within one process, ids also sort by creation inside one millisecond (RFC 9562 §6.2, monotonic random):
    the random part of the next id of the same millisecond is the last one's plus a random step, so ids made
    in a burst (a key rotation's two keys) keep their order and are still not guessed from each other.
    """
    global _last_id
    millis = time.time_ns() // 1_000_000
    with _id_lock:
        last_millis, last_random = _last_id
        if millis <= last_millis:  # the same millisecond, or the clock stepped back
            millis, random_part = last_millis, last_random + 1 + secrets.randbits(32)
            if random_part >> _RANDOM_BITS:  # its random part is used up: borrow the next millisecond
                millis, random_part = last_millis + 1, secrets.randbits(_RANDOM_BITS - 1)
        else:
            random_part = secrets.randbits(_RANDOM_BITS - 1)  # room left for the steps of the millisecond
        _last_id = millis, random_part
    rand_a, rand_b = random_part >> 62, random_part & (2**62 - 1)
    value = (millis & (2**48 - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0x2 << 62 | rand_b
    return uuid.UUID(int=value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSONType,
    }


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
