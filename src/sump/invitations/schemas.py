from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from sump.accounts.schemas import LinkToken
from sump.db.base import utcnow
from sump.db.tables.links import Invitation
from sump.kit.schemas import RequestModel, ResponseModel

STATUS = "`pending` until accepted or revoked; `expired` once its 7 days have passed (resending renews it)."


class InvitationView(ResponseModel):
    """A pending invitation. Its token is never shown: it is only in the email."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    environment_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    email: str
    role: str | None
    status: Literal["pending", "expired"] = Field(description=STATUS)
    invited_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, invitation: Invitation) -> InvitationView:
        return cls(
            id=invitation.id,
            tenant_id=invitation.tenant_id,
            environment_id=invitation.environment_id,
            organization_id=invitation.organization_id,
            email=invitation.email,
            role=invitation.role,
            status="expired" if invitation.expires_at <= utcnow() else "pending",
            invited_by=invitation.invited_by,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )


class InvitationDetails(ResponseModel):
    """What the page an invitation's link opens shows before it is accepted (the token itself is never shown)."""

    kind: Literal["tenant_account", "organization", "end_user"]
    email: str
    role: str | None
    organization_id: uuid.UUID | None = None
    organization_name: str | None = None
    expires_at: datetime


class LookUpInvitation(RequestModel):
    token: LinkToken
