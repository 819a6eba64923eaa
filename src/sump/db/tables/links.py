"""What an emailed link stands for: a single-use token bound to an account (an email to verify, an email change
to confirm or cancel, a magic sign-in link), or an invitation to become an account (a tenant account, a member
of an organization, an end user who sets a password).

Tokens are random, shown once in the email and stored as their SHA-256; each is bound to its tenant (and
environment), expires, and is used once: the step that redeems it marks it with a conditional UPDATE, so of
concurrent redemptions exactly one wins."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, Timestamps, utcnow, uuid7
from sump.db.tables.factors import _OwnedByAccount


class LinkPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"  # the account's current email (24 h)
    CHANGE_EMAIL = "change_email"  # a new email, which becomes the account's once verified (24 h)
    CANCEL_EMAIL_CHANGE = "cancel_email_change"  # sent to the old address: undoes the change (24 h)
    MAGIC_LINK = "magic_link"  # a sign-in's first factor (15 minutes)


class InvitationKind(StrEnum):
    TENANT_ACCOUNT = "tenant_account"  # becomes a tenant account with `role`
    ORGANIZATION = "organization"  # becomes a member of `organization_id` with `role`
    END_USER = "end_user"  # an end user made without a password sets one


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class AccountToken(_OwnedByAccount, Base):
    """A single-use link of one account, for one purpose; one live token per account and purpose (a new one
    replaces it), and for the cancellation of an email change one per address. `email` is the address the link
    was sent for (the new address of an email change, the old one of its cancellation)."""

    __tablename__ = "account_token"
    __table_args__ = (Index("ix_account_token_account", "account_type", "account_id", "purpose"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    purpose: Mapped[LinkPurpose] = mapped_column(
        Enum(LinkPurpose, native_enum=False, length=24, values_callable=_values)
    )
    email: Mapped[str | None] = mapped_column(String(254))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Timestamps, Base):
    """An invitation by email, pending until accepted, revoked or expired (7 days). Resending gives it a new
    token, so the link sent before stops working."""

    __tablename__ = "invitation"
    __table_args__ = (Index("ix_invitation_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    kind: Mapped[InvitationKind] = mapped_column(
        Enum(InvitationKind, native_enum=False, length=24, values_callable=_values)
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    environment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("environment.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    # The end user who sets a password (`end_user` invitations).
    environment_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("environment_account.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str | None] = mapped_column(String(64))
    # The inviting account, of either family (no foreign key): an invitation into a role is accepted only while
    # its inviter may still grant that role.
    invited_by: Mapped[uuid.UUID | None]
    accepted_by: Mapped[uuid.UUID | None]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
