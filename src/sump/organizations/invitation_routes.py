"""`/environments/{environmentId}/organizations/{organizationId}/invitations`: an organization's ORG_ADMINs (and
the tenant's owners and admins) invite by email into a role, list, resend and revoke."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from sump.access.dependencies import EnvironmentActorDep
from sump.invitations.schemas import InvitationView
from sump.kit.deps import CallDep
from sump.kit.errors import problem_responses
from sump.kit.transactions import DbSession
from sump.organizations.schemas import OrganizationInvite
from sump.organizations.service import invitations

router = APIRouter(
    prefix="/environments/{environmentId}/organizations/{organizationId}/invitations",
    tags=["organizations"],
    responses=problem_responses(400, 401, 403, 404),
)
OrganizationId = Annotated[uuid.UUID, Path(alias="organizationId")]
InvitationId = Annotated[uuid.UUID, Path(alias="invitationId")]


@router.post("", status_code=201, response_model=InvitationView, responses=problem_responses(409))
async def invite(
    organization_id: OrganizationId, body: OrganizationInvite, actor: EnvironmentActorDep, call: CallDep
) -> InvitationView:
    """Emails `email` an invitation into the organization with `role`, a single-use link valid 7 days to the
    application's `/accept-invitation` page. The end user of the environment holding that address accepts it
    signed in (`…/auth/environments/{environmentId}/invitations/accept`); someone new signs up through it
    (`…/invitations/signup`). 409 `already_member`; a pending invitation of the same address is revoked."""
    return InvitationView.of(await invitations.invite(call, actor, organization_id, body))


@router.get("", response_model=list[InvitationView])
async def list_invitations(
    organization_id: OrganizationId, actor: EnvironmentActorDep, db: DbSession
) -> list[InvitationView]:
    """Invitations neither accepted nor revoked, oldest first (expired ones too: resending renews them)."""
    return [InvitationView.of(invitation) for invitation in await invitations.pending(db, actor, organization_id)]


@router.post("/{invitationId}/resend", response_model=InvitationView, responses=problem_responses(409))
async def resend_invitation(
    organization_id: OrganizationId, invitation_id: InvitationId, actor: EnvironmentActorDep, call: CallDep
) -> InvitationView:
    """A new link, valid 7 more days: the link sent before stops working."""
    return InvitationView.of(await invitations.resend(call, actor, organization_id, invitation_id))


@router.delete("/{invitationId}", status_code=204, responses=problem_responses(409))
async def revoke_invitation(
    organization_id: OrganizationId, invitation_id: InvitationId, actor: EnvironmentActorDep, call: CallDep
) -> None:
    """Revokes a pending invitation: its link stops working."""
    await invitations.revoke(call, actor, organization_id, invitation_id)
