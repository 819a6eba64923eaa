from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, Timestamps, utcnow, uuid7


class OutboxKind(StrEnum):
    EMAIL = "email"  # payload: to, subject, text, html
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a message kind) payload: who asked; the worker turns it into an email (or drops it)
    MAGIC_LINK = "magic_link"  # payload: who asked, like a password reset


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    SENT = "sent"
    ABANDONED = "abandoned"
    DROPPED = "dropped"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class OutboxMessage(Timestamps, Base):
    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    kind: Mapped[OutboxKind] = mapped_column(Enum(OutboxKind, native_enum=False, length=24, values_callable=_values))
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=16, values_callable=_values), default=OutboxStatus.QUEUED
    )
    template: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    # A claim is a lease: the worker that holds it renews it while it works; once it has run out, any worker may
    # claim the row again. The claim's id fences a worker that lost its lease from recording a failure.
    claim_id: Mapped[uuid.UUID | None]
    lease_expires_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
