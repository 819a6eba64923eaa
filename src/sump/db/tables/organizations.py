from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, JSONType, Timestamps, utcnow, uuid7
from sump.db.folded import folded_column, keep_folded

ORG_ADMIN = "ORG_ADMIN"
ORG_USER = "ORG_USER"
READ_ONLY = "READ_ONLY"
BUILTIN_ROLES = (ORG_ADMIN, ORG_USER, READ_ONLY)


class Organization(Timestamps, Base):
    """A group of end users of one environment (the reference system's tenant)."""

    __tablename__ = "organization"
    __table_args__ = (
        UniqueConstraint("environment_id", "name"),
        Index("ix_organization_environment_id_id", "environment_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    name_folded: Mapped[str | None] = folded_column("name")  # what a search by name compares its prefix with


keep_folded(Organization, "name", "name_folded")


class Membership(Base):
    """An end user's place in an organization, with one role named in the environment's roles."""

    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("organization_id", "environment_account_id"),
        Index("ix_membership_organization_id_id", "organization_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    environment_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("environment_account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Permission(Base):
    """One entry of an environment's permission catalog, such as `projects:read`."""

    __tablename__ = "permission"
    __table_args__ = (UniqueConstraint("environment_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(Timestamps, Base):
    """A role of an environment's organizations and the permission names it grants. The three built-in roles
    can be edited but not deleted."""

    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("environment_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200), default="")
    permissions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    builtin: Mapped[bool] = mapped_column(default=False)
