from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, utcnow, uuid7

ORGANIZATION_EVENTS = "organization_id IS NOT NULL"


class AuditEvent(Base):
    """One event. Rows are only ever inserted; they carry ids without foreign keys, so they outlive what they
    describe (a deleted account, environment or tenant)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_tenant_id_id", "tenant_id", "id"),
        Index("ix_audit_event_environment_id_id", "environment_id", "id"),
        # An organization's readers (any end user who created one) read its events by this one.
        Index(
            "ix_audit_event_organization_id_id",
            "organization_id",
            "id",
            sqlite_where=text(ORGANIZATION_EVENTS),
            postgresql_where=text(ORGANIZATION_EVENTS),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID]
    environment_id: Mapped[uuid.UUID | None]
    organization_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    actor_type: Mapped[str | None] = mapped_column(String(32))
    actor_id: Mapped[uuid.UUID | None]
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[uuid.UUID | None]
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
