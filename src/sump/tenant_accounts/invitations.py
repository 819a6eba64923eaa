"""Invitations of tenant accounts: an owner or admin invites an address into a role (the role rules of
`policy.grant`: admins invite users only); the invitee follows the emailed link (the console's accept page),
chooses a name, username and password, and the account is created with that role and a verified email.

An invitation carries its inviter's authority, and no further than it goes:
- inviting an address replaces its pending invitation, so it needs the rank to revoke that one;
- completing an account invited the old way sets its role, so inviting its address needs the rank to manage it;
- an invitation is accepted only while its inviter is an enabled account that may still grant its role, so one
  planted by an owner about to be demoted or removed dies with that authority.

Accounts invited before invitations existed (made without a password, sent a reset link) are pending
invitations too: a real invitation to their address completes that account when accepted."""

from __future__ import annotations

import uuid
from typing import Any

from limits import parse
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import require
from sump.access.pools import Pool, tenant_pool
from sump.accounts import links
from sump.accounts.identity import ensure_identifiers_free
from sump.db.tables.links import Invitation, InvitationKind
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.invitations import service as invitations
from sump.kit import audit
from sump.kit.audit import Ref, ref
from sump.kit.call import Call
from sump.kit.email.outbox import enqueue_email
from sump.kit.errors import Problem
from sump.kit.password_policy import DEFAULT_POLICY
from sump.tenant_accounts import policy, repository
from sump.tenant_accounts.schemas import AcceptInvitation, AccountCreate, InvitationCreate
from sump.tenant_accounts.service import ensure_not_last_owner, new_account, require_step_up_to_grant

ACCEPT_PER_IP = parse("10/minute")
KIND = InvitationKind.TENANT_ACCOUNT
API_TEMPLATE, CONSOLE_TEMPLATE = "tenant_invitation", "console_invitation"


def already_member() -> Problem:
    message = "This email address already belongs to an account of this tenant."
    return Problem(409, "identifier_taken", message, errors={"email": message})


async def _audit(db: AsyncSession, actor: TenantActor, action: str, invitation: Invitation, **details: Any) -> None:
    await audit.record(
        db,
        f"tenant_account.{action}",
        tenant_id=actor.tenant_id,
        actor=ref(actor.account),
        target=Ref("invitation", invitation.id),
        details={"role": invitation.role, **details},
    )


async def _send(call: Call, actor: TenantActor, invitation: Invitation, token: str, template: str) -> None:
    link = links.page_link(call.settings, tenant_pool(actor.tenant_id), "accept-invitation", token)
    await enqueue_email(
        call.db,
        template,
        invitation.email,
        inviter=actor.account.name,
        role=invitation.role,
        link=link,
        days=invitations.DAYS,
    )


async def invite(call: Call, actor: TenantActor, body: InvitationCreate, *, template: str = API_TEMPLATE) -> Invitation:
    """Invites `body.email` into `body.role`: 403 `role_not_grantable` above one's rank (or when the address's
    pending invitation is), 403 `insufficient_role` for the address of an account invited the old way that one
    may not manage, 409 `identifier_taken` when an account of the tenant (with a password) holds the address.
    An earlier pending invitation of the address is revoked."""
    require(policy.manage_accounts(actor))
    require(policy.grant(actor, body.role))
    require_step_up_to_grant(actor, body.role)
    holder = await repository.find(call.db, actor.tenant_id, email=body.email)
    if holder is not None:
        if holder.password_hash is not None:
            raise already_member()
        require(policy.manage(actor, holder))
    for earlier in await invitations.pending(call.db, actor.tenant_id, KIND, email=body.email):
        require(policy.grant(actor, _role(earlier)))
    await invitations.within_sending_limits(call.limiter, actor.tenant_id, body.email, actor.account.id)
    issued = await invitations.issue(
        call.db, KIND, tenant_id=actor.tenant_id, email=body.email, role=body.role.value, invited_by=actor.account.id
    )
    await _send(call, actor, issued.invitation, issued.token, template)
    await _audit(call.db, actor, "invited", issued.invitation)
    return issued.invitation


async def reinvite(call: Call, actor: TenantActor, account_id: uuid.UUID) -> Invitation:
    """A real invitation for an account invited the old way (no password yet), into its role."""
    account = await repository.get(call.db, actor.tenant_id, account_id)
    if account is None or account.password_hash is not None:
        raise invitations.not_pending()
    require(policy.manage(actor, account))
    return await invite(
        call, actor, InvitationCreate(email=account.email, role=account.role), template=CONSOLE_TEMPLATE
    )


async def pending(db: AsyncSession, actor: TenantActor) -> list[Invitation]:
    """The tenant's invitations neither accepted nor revoked (expired ones included), oldest first."""
    require(policy.manage_accounts(actor))
    return await invitations.pending(db, actor.tenant_id, KIND)


def _role(invitation: Invitation) -> TenantRole:
    return TenantRole(invitation.role or TenantRole.USER)


async def _managed(db: AsyncSession, actor: TenantActor, invitation_id: uuid.UUID) -> Invitation:
    require(policy.manage_accounts(actor))
    invitation = await invitations.get(db, actor.tenant_id, invitation_id, KIND)
    require(policy.grant(actor, _role(invitation)))
    return invitation


async def resend(
    call: Call, actor: TenantActor, invitation_id: uuid.UUID, *, template: str = API_TEMPLATE
) -> Invitation:
    """Sends the invitation again with a new link, valid 7 more days; the link sent before stops working. The
    sender, who may grant its role, becomes its inviter: the link lives by their authority, not by that of whoever
    sent it first (who may have lost it since)."""
    invitation = await _managed(call.db, actor, invitation_id)
    require_step_up_to_grant(actor, _role(invitation))
    await invitations.within_sending_limits(call.limiter, actor.tenant_id, invitation.email, actor.account.id)
    token = await invitations.renew(invitation)
    invitation.invited_by = actor.account.id
    await _send(call, actor, invitation, token, template)
    await _audit(call.db, actor, "invitation_resent", invitation)
    return invitation


async def revoke(call: Call, actor: TenantActor, invitation_id: uuid.UUID) -> None:
    """Revokes a pending invitation: its link stops working."""
    invitation = await _managed(call.db, actor, invitation_id)
    invitations.revoke(invitation)
    await _audit(call.db, actor, "invitation_revoked", invitation)


async def accept(call: Call, pool: Pool, body: AcceptInvitation) -> TenantAccount:
    """Creates the invited account (or completes one invited the old way) with the invitation's role, the
    invited address (verified) and the name, username and password given. 400 `invalid_token` for a token
    that is unknown, used, revoked, expired, of another tenant, or whose inviter may no longer grant its role;
    409 `identifier_taken`."""
    await call.limiter.hit(ACCEPT_PER_IP, "tenant-invitation", call.client.ip)
    try:
        invitation = await describe(call.db, pool, body.token)
        DEFAULT_POLICY.check(body.password, email=invitation.email, username=body.username)
        role = _role(invitation)
        async with call.hasher.slot():
            account = await _account_for(call, pool, invitation, body, role)
        await invitations.close(call.db, invitation, account.id)
    except Problem as problem:
        audit.record_failure(
            call, "tenant_account.invitation_failed", problem, tenant_id=pool.tenant_id, environment_id=None
        )
        raise
    who = ref(account)
    await audit.record(
        call.db,
        "tenant_account.invitation_accepted",
        tenant_id=pool.tenant_id,
        actor=who,
        target=who,
        details={"role": role.value, "invitation": str(invitation.id)},
    )
    return account


async def _account_for(
    call: Call, pool: Pool, invitation: Invitation, body: AcceptInvitation, role: TenantRole
) -> TenantAccount:
    existing = await repository.find(call.db, pool.tenant_id, email=invitation.email)
    if existing is None:
        create = AccountCreate(
            email=invitation.email, name=body.name, username=body.username, phone=body.phone, password=body.password
        )
        account = await new_account(call.db, call.hasher, pool.tenant_id, create, role)
    elif existing.password_hash is None and not existing.disabled:  # invited the old way
        await ensure_identifiers_free(call.db, pool, existing.id, username=body.username, phone=body.phone)
        if role is not existing.role:
            await ensure_not_last_owner(call.db, existing)
        existing.name, existing.username, existing.phone, existing.role = body.name, body.username, body.phone, role
        existing.password_hash = await call.hasher.hash(body.password)
        account = existing
    else:
        raise already_member()
    account.email_verified = True
    return account


async def describe(db: AsyncSession, pool: Pool, token: str) -> Invitation:
    """A live invitation of this tenant whose inviter may still grant its role (for the page its link opens, and
    for accepting it); 400 `invalid_token` otherwise."""
    invitation = await invitations.open_invitation(db, pool.tenant_id, None, token, KIND)
    inviter = await repository.get(db, pool.tenant_id, invitation.invited_by) if invitation.invited_by else None
    if inviter is None or inviter.disabled or not policy.grants(inviter.role, _role(invitation)):
        raise invitations.invalid_invitation()
    return invitation
