from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, JSONType, utcnow, uuid7


class AccountType(StrEnum):
    TENANT_ACCOUNT = "tenant_account"
    ENVIRONMENT_ACCOUNT = "environment_account"


class Session(Base):
    """One signed-in device. Only the SHA-256 of its token is stored; rows cascade with account and tenant."""

    __tablename__ = "session"
    __table_args__ = (
        Index("ix_session_account", "account_type", "account_id"),
        Index("ix_session_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    environment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("environment.id", ondelete="CASCADE"), index=True
    )
    account_type: Mapped[AccountType] = mapped_column(
        Enum(AccountType, native_enum=False, length=24, values_callable=lambda types: [t.value for t in types])
    )
    account_id: Mapped[uuid.UUID]
    tenant_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenant_account.id", ondelete="CASCADE"), index=True
    )
    environment_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("environment_account.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime]
    last_active_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How the session was signed in (RFC 8176 `amr`: "pwd", "otp", "mfa" …); null for sessions made before.
    amr: Mapped[list[str] | None] = mapped_column(JSONType)
    # Until when a recent second factor lets this session make sensitive changes (step-up).
    elevated_until: Mapped[datetime | None]
