from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, Timestamps, uuid7
from sump.db.folded import folded_column, keep_folded
from sump.db.identity import IdentityColumns


class EnvironmentAccount(IdentityColumns, Timestamps, Base):
    __tablename__ = "environment_account"
    __table_args__ = (
        UniqueConstraint("environment_id", "email"),
        UniqueConstraint("environment_id", "username"),
        UniqueConstraint("environment_id", "phone"),
        Index("ix_environment_account_environment_id_id", "environment_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"))
    custom_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Written by the tenant's owners and admins only (the end user reads it); custom properties are the end user's.
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict, server_default="{}")
    name_folded: Mapped[str | None] = folded_column("name")  # what a search by name compares its prefix with


keep_folded(EnvironmentAccount, "name", "name_folded")
