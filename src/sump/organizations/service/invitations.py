"""Invitations into an organization: its ORG_ADMIN (or the tenant's owners and admins) invites an address into
a role of the environment; the emailed link (the builder's application's `/accept-invitation` page) is accepted
by the end user of the environment holding that address, signed in, or by someone new who signs up through it
(`sump.auth.invitations`), which also verifies their email. Accepting under another address is refused, and so
is an invitation whose inviter may no longer invite into the organization (an ORG_ADMIN demoted or removed, a
tenant account demoted to user, either disabled or deleted): it carries its inviter's authority, no further."""

from __future__ import annotations

import uuid

from limits import parse
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import EndUser, EnvironmentActor
from sump.access.automation import ROUTES
from sump.access.pools import Pool, tenant_pool
from sump.accounts import identity, links
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.links import Invitation, InvitationKind
from sump.db.tables.organizations import ORG_ADMIN, Membership
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.environment_accounts import service as end_users
from sump.environments import service as environments
from sump.invitations import service as invitations
from sump.kit import audit
from sump.kit.audit import Ref, ref
from sump.kit.call import Call
from sump.kit.email.outbox import enqueue_email
from sump.kit.errors import Problem, conflict, not_found
from sump.organizations import repository
from sump.organizations.schemas import OrganizationInvite
from sump.organizations.service.access import Place, ensure_admin, place_of, record
from sump.organizations.service.members import _role

# What an automation client's invitation needs it to hold still when it is followed: what sending it needed.
INVITE_PERMISSION = ROUTES["POST", "/environments/{environmentId}/organizations/{organizationId}/invitations"]

KIND = InvitationKind.ORGANIZATION
# Anyone who signs up may found an organization and invite into it: its emails are the builder's, so an end user
# sends at most this many (invitations and resends); one address gets at most a few from one organization
# (`invitations.SENT_PER_ADDRESS`).
SENT_PER_END_USER = parse("30/hour")


def already_member(field: str = "email") -> Problem:
    return conflict("already_member", "This account is already a member of the organization.", field)


def email_mismatch() -> Problem:
    message = "This invitation was sent to another email address: sign in with that address to accept it."
    return Problem(403, "invitation_email_mismatch", message)


async def _within_limits(call: Call, actor: EnvironmentActor, organization_id: uuid.UUID, email: str) -> None:
    """Counts one invitation email against the limits (its sender's: an end user's own, a tenant account's or
    automation client's as everywhere else; and the address's), before anything is changed: 429 `rate_limited`
    past either."""
    per_sender = SENT_PER_END_USER if actor.end_user is not None else invitations.SENT_PER_SENDER
    await invitations.within_sending_limits(call.limiter, organization_id, email, actor.account.id, per_sender)


async def _send(call: Call, actor: EnvironmentActor, place: Place, invitation: Invitation, token: str) -> None:
    link = links.page_link(call.settings, environments.pool(actor.environment), "accept-invitation", token)
    await enqueue_email(
        call.db,
        "organization_invitation",
        invitation.email,
        inviter=actor.account.name,
        organization=place.organization.name,
        role=invitation.role,
        link=link,
        days=invitations.DAYS,
    )


async def invite(
    call: Call, actor: EnvironmentActor, organization_id: uuid.UUID, body: OrganizationInvite
) -> Invitation:
    """Emails `body.email` an invitation into the organization with `body.role` (a role of the environment):
    its ORG_ADMINs and the tenant's owners and admins. 409 `already_member` when the address's end user is one."""
    place = await place_of(call.db, actor, organization_id)
    ensure_admin(actor, place)
    environment_id = actor.environment.id
    await _role(call.db, environment_id, body.role)
    holder = await end_users.with_email(call.db, environment_id, body.email)
    if holder is not None and await repository.membership(call.db, environment_id, organization_id, holder.id):
        raise already_member()
    await _within_limits(call, actor, place.organization.id, body.email)
    issued = await invitations.issue(
        call.db,
        KIND,
        tenant_id=actor.environment.tenant_id,
        email=body.email,
        role=body.role,
        invited_by=actor.account.id,
        environment_id=environment_id,
        organization_id=place.organization.id,
    )
    await _send(call, actor, place, issued.invitation, issued.token)
    await record(
        call.db,
        actor,
        "organization.invited",
        place.organization.id,
        Ref("invitation", issued.invitation.id),
        role=body.role,
    )
    return issued.invitation


async def pending(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID) -> list[Invitation]:
    place = await place_of(db, actor, organization_id)
    ensure_admin(actor, place)
    return await invitations.pending(
        db, actor.environment.tenant_id, KIND, environment_id=actor.environment.id, organization_id=organization_id
    )


async def _managed(
    db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, invitation_id: uuid.UUID
) -> tuple[Place, Invitation]:
    place = await place_of(db, actor, organization_id)
    ensure_admin(actor, place)
    invitation = await invitations.get(db, actor.environment.tenant_id, invitation_id, KIND)
    if invitation.organization_id != place.organization.id:
        raise not_found("invitation")
    return place, invitation


async def resend(
    call: Call, actor: EnvironmentActor, organization_id: uuid.UUID, invitation_id: uuid.UUID
) -> Invitation:
    """A new link, valid 7 more days; the link sent before stops working."""
    place, invitation = await _managed(call.db, actor, organization_id, invitation_id)
    await _within_limits(call, actor, place.organization.id, invitation.email)
    token = await invitations.renew(invitation)
    await _send(call, actor, place, invitation, token)
    await record(call.db, actor, "organization.invitation_resent", organization_id, Ref("invitation", invitation.id))
    return invitation


async def revoke(call: Call, actor: EnvironmentActor, organization_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
    _, invitation = await _managed(call.db, actor, organization_id, invitation_id)
    invitations.revoke(invitation)
    await record(call.db, actor, "organization.invitation_revoked", organization_id, Ref("invitation", invitation.id))


async def open_invitation(db: AsyncSession, pool: Pool, token: str) -> Invitation:
    """The pool's live organization invitation of this token; 400 `invalid_token` otherwise."""
    return await invitations.open_invitation(db, pool.tenant_id, pool.environment_id, token, KIND)


async def join(db: AsyncSession, invitation: Invitation, account: EnvironmentAccount) -> Membership:
    """Makes `account` (whose email is the invited address, now verified) a member with the invitation's role,
    and uses the invitation up (one winner). 403 `invitation_email_mismatch`, 409 `already_member`."""
    if account.email != invitation.email:
        raise email_mismatch()
    assert invitation.organization_id is not None
    assert invitation.role is not None
    environment_id = account.environment_id
    if await repository.membership(db, environment_id, invitation.organization_id, account.id) is not None:
        raise already_member("token")
    await _role(db, environment_id, invitation.role)
    organization = await repository.get(db, environment_id, invitation.organization_id)
    if organization is None or not await _inviter_may_invite(db, account.tenant_id, invitation):
        raise invitations.invalid_invitation()
    await invitations.close(db, invitation, account.id)
    account.email_verified = True
    membership = Membership(
        environment_id=environment_id,
        organization_id=organization.id,
        environment_account_id=account.id,
        role=invitation.role,
    )
    await repository.add(db, membership)
    await audit.record(
        db,
        "membership.added",
        tenant_id=account.tenant_id,
        environment_id=environment_id,
        organization_id=organization.id,
        actor=ref(account),
        target=ref(account),
        details={"role": invitation.role, "invitation": str(invitation.id)},
    )
    return membership


async def _inviter_may_invite(db: AsyncSession, tenant_id: uuid.UUID, invitation: Invitation) -> bool:
    """Whether the invitation's inviter may still invite into its organization: an enabled end user holding
    ORG_ADMIN there, an enabled owner or admin of the tenant (`policy.administer`'s rule), or the tenant's
    automation client still holding the permission its invitation needed (`access.automation`)."""
    inviter_id, environment_id, organization_id = (
        invitation.invited_by,
        invitation.environment_id,
        invitation.organization_id,
    )
    if inviter_id is None or environment_id is None or organization_id is None:
        return False
    end_user = await end_users.find(db, environment_id, inviter_id)
    if end_user is not None:
        membership = await repository.membership(db, environment_id, organization_id, inviter_id)
        return not end_user.disabled and membership is not None and membership.role == ORG_ADMIN
    staff = await identity.get(db, tenant_pool(tenant_id), inviter_id)
    if staff is not None:
        return isinstance(staff, TenantAccount) and not staff.disabled and staff.role.rank >= TenantRole.ADMIN.rank
    client = await repository.automation_permissions(db, tenant_id, inviter_id)
    return client is not None and INVITE_PERMISSION in client


async def accept(call: Call, environment: Environment, end_user: EndUser, token: str) -> Membership:
    """The signed-in end user accepts an invitation sent to their own email address."""
    pool = environments.pool(environment)
    try:
        invitation = await open_invitation(call.db, pool, token)
        return await join(call.db, invitation, end_user.account)
    except Problem as problem:
        audit.record_failure(
            call,
            "organization.invitation_failed",
            problem,
            tenant_id=pool.tenant_id,
            environment_id=pool.environment_id,
            target=ref(end_user.account),
        )
        raise


async def describe(db: AsyncSession, pool: Pool, token: str) -> tuple[Invitation, str | None]:
    """A live invitation of this environment (into an organization, or an end user's to choose a password) and
    its organization's name, for the page its link opens; 400 `invalid_token` otherwise (an organization's too when
    its inviter may no longer invite)."""
    invitation = await invitations.open_invitation(
        db, pool.tenant_id, pool.environment_id, token, KIND, InvitationKind.END_USER
    )
    if invitation.kind is KIND and not await _inviter_may_invite(db, pool.tenant_id, invitation):
        raise invitations.invalid_invitation()
    name = None
    if invitation.organization_id is not None and pool.environment_id is not None:
        organization = await repository.get(db, pool.environment_id, invitation.organization_id)
        name = organization.name if organization is not None else None
    return invitation, name
