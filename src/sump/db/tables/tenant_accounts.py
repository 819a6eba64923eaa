from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, Timestamps, uuid7
from sump.db.identity import IdentityColumns


class TenantRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    USER = "user"

    @property
    def rank(self) -> int:
        return {"owner": 3, "admin": 2, "user": 1}[self.value]


class TenantAccount(IdentityColumns, Timestamps, Base):
    __tablename__ = "tenant_account"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        UniqueConstraint("tenant_id", "username"),
        UniqueConstraint("tenant_id", "phone"),
        Index("ix_tenant_account_tenant_role", "tenant_id", "role"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    role: Mapped[TenantRole] = mapped_column(
        Enum(TenantRole, native_enum=False, length=16, values_callable=lambda roles: [r.value for r in roles]),
        default=TenantRole.USER,
    )
