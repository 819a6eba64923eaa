from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, utcnow, uuid7
from sump.db.tables.sessions import AccountType


class PasswordResetToken(Base):
    """A single-use reset token, stored as its SHA-256; one live token per account."""

    __tablename__ = "password_reset_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    account_type: Mapped[AccountType] = mapped_column(
        Enum(AccountType, native_enum=False, length=24, values_callable=lambda types: [t.value for t in types])
    )
    account_id: Mapped[uuid.UUID] = mapped_column(index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    environment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"))
    tenant_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenant_account.id", ondelete="CASCADE"), index=True
    )
    environment_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("environment_account.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
