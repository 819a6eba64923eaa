from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, utcnow, uuid7


class KeyStatus(StrEnum):
    NEXT = "next"  # published, not yet signing: verifiers learn it before it is used
    ACTIVE = "active"  # signs new tokens
    RETIRED = "retired"  # published until the tokens it signed have expired


class SigningKey(Base):
    """One environment's ES256 key. The private key is stored encrypted with a key derived from the secret."""

    __tablename__ = "signing_key"
    __table_args__ = (Index("ix_signing_key_environment_status", "environment_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"))
    algorithm: Mapped[str] = mapped_column(String(16), default="ES256")
    status: Mapped[KeyStatus] = mapped_column(
        Enum(KeyStatus, native_enum=False, length=16, values_callable=lambda s: [m.value for m in s])
    )
    public_jwk: Mapped[dict[str, Any]]
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class RefreshToken(Base):
    """An opaque refresh token, stored as its SHA-256. Each use rotates it; a family is one sign-in's chain.

    It hangs off a session, so whatever ends the session (logout, password change, disable) ends it too.
    """

    __tablename__ = "refresh_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(index=True)
    organization_id: Mapped[uuid.UUID | None]
    # The OAuth client it was issued to (authorization code or client grant), and the scope granted; null for
    # the first-party grants of the token endpoint (password, session, mfa).
    client_pk: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str | None] = mapped_column(String(1024))
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
