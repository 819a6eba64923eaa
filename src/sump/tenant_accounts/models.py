from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, Timestamps, uuid7


class TenantRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    USER = "user"

    @property
    def rank(self) -> int:
        return {"owner": 3, "admin": 2, "user": 1}[self.value]


class TenantAccount(Timestamps, Base):
    __tablename__ = "tenant_account"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        UniqueConstraint("tenant_id", "username"),
        UniqueConstraint("tenant_id", "phone"),
        Index("ix_tenant_account_tenant_role", "tenant_id", "role"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(default=False)
    phone: Mapped[str | None] = mapped_column(String(16))
    phone_verified: Mapped[bool] = mapped_column(default=False)
    username: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[TenantRole] = mapped_column(
        Enum(TenantRole, native_enum=False, length=16, values_callable=lambda roles: [r.value for r in roles]),
        default=TenantRole.USER,
    )
    disabled: Mapped[bool] = mapped_column(default=False)
    disabled_at: Mapped[datetime | None]
