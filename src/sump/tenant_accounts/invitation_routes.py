"""`/tenants/{tenantId}/invitations` (owners and admins invite by email into a role, list, resend, revoke) and
`/auth/tenants/{tenantId}/invitations/accept` (the invitee, with the emailed token, creates the account)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from limits import parse

from sump.access.actors import TenantActor
from sump.access.dependencies import allowed
from sump.access.pools import Pool
from sump.accounts.pools import load_pool
from sump.db.tables.sessions import AccountType
from sump.invitations.schemas import InvitationDetails, InvitationView, LookUpInvitation
from sump.kit.deps import CallDep
from sump.kit.errors import problem_responses
from sump.kit.schemas import Created
from sump.kit.transactions import DbSession
from sump.tenant_accounts import invitations, policy
from sump.tenant_accounts.schemas import AcceptInvitation, InvitationCreate

router = APIRouter(
    prefix="/tenants/{tenantId}/invitations",
    tags=["tenant accounts"],
    responses=problem_responses(400, 401, 403, 404),
)
accept_router = APIRouter(prefix="/auth/tenants/{tenantId}", tags=["tenant sign-in"], responses=problem_responses(400))
InvitationId = Annotated[uuid.UUID, Path(alias="invitationId")]
AccountManager = Annotated[TenantActor, allowed(policy.manage_accounts)]
LOOKUP_PER_IP = parse("30/minute")


async def tenant_pool(tenant_id: Annotated[uuid.UUID, Path(alias="tenantId")], db: DbSession) -> Pool:
    return await load_pool(db, AccountType.TENANT_ACCOUNT, tenant_id)


@router.post("", status_code=201, response_model=InvitationView, responses=problem_responses(409, 429))
async def invite(body: InvitationCreate, actor: AccountManager, call: CallDep) -> InvitationView:
    """Emails `email` an invitation into `role`, with a single-use link valid 7 days. Admins invite users
    only (403 `role_not_grantable`); 409 `identifier_taken` when an account of the tenant holds the address.
    A pending invitation of the same address is revoked."""
    return InvitationView.of(await invitations.invite(call, actor, body))


@router.get("", response_model=list[InvitationView])
async def list_invitations(actor: AccountManager, db: DbSession) -> list[InvitationView]:
    """Invitations neither accepted nor revoked, oldest first (expired ones too: resending renews them)."""
    return [InvitationView.of(invitation) for invitation in await invitations.pending(db, actor)]


@router.post("/{invitationId}/resend", response_model=InvitationView, responses=problem_responses(409, 429))
async def resend_invitation(invitation_id: InvitationId, actor: AccountManager, call: CallDep) -> InvitationView:
    """Emails the invitation again with a new link, valid 7 more days: the link sent before stops working.
    409 `invitation_not_pending` once accepted or revoked."""
    return InvitationView.of(await invitations.resend(call, actor, invitation_id))


@router.delete("/{invitationId}", status_code=204, responses=problem_responses(409))
async def revoke_invitation(invitation_id: InvitationId, actor: AccountManager, call: CallDep) -> None:
    """Revokes a pending invitation: its link stops working."""
    await invitations.revoke(call, actor, invitation_id)


@accept_router.post("/invitations/lookup", response_model=InvitationDetails, response_model_exclude_none=True)
async def look_up_invitation(
    body: LookUpInvitation, pool: Annotated[Pool, Depends(tenant_pool)], call: CallDep
) -> InvitationDetails:
    """The invited address and role, for the page the link opens, without using the invitation. 400
    `invalid_token`."""
    await call.limiter.hit(LOOKUP_PER_IP, "tenant-invitation-lookup", call.client.ip)
    invitation = await invitations.describe(call.db, pool, body.token)
    return InvitationDetails(
        kind=invitation.kind.value, email=invitation.email, role=invitation.role, expires_at=invitation.expires_at
    )


@accept_router.post(
    "/invitations/accept", status_code=201, response_model=Created, responses=problem_responses(404, 409, 429, 503)
)
async def accept_invitation(
    body: AcceptInvitation, pool: Annotated[Pool, Depends(tenant_pool)], call: CallDep
) -> Created:
    """Accepts an invitation with the emailed token: creates the account with the invited address (verified),
    the invitation's role, and the name, username and password given; then sign in as usual. 400
    `invalid_token` for a token that is unknown, used, revoked, expired or of another tenant."""
    account = await invitations.accept(call, pool, body)
    return Created(id=account.id)
