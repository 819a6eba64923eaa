"""Members of an organization: listed with the `users:read` permission; given a role of the environment and
removed by an ORG_ADMIN or the tenant's owners and admins, added directly by the latter only (ORG_ADMINs invite);
any member may leave. An organization keeps at least one ORG_ADMIN: the demotion or removal that would end the
last answers 409, and the ORG_ADMIN memberships are locked first, so concurrent changes cannot both pass."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import EnvironmentActor
from sump.access.policy import require
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.links import InvitationKind
from sump.db.tables.organizations import Membership, Role
from sump.environment_accounts import service as end_users
from sump.invitations import service as invitations
from sump.kit.audit import Ref, ref
from sump.kit.errors import bad_request, conflict, not_found
from sump.organizations import policy, repository
from sump.organizations.schemas import MemberAdd
from sump.organizations.service.access import ensure_admin, ensure_permission, place_of, record
from sump.tokens import service as tokens


async def members(
    db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[tuple[Membership, EnvironmentAccount]]:
    place = await place_of(db, actor, organization_id)
    await ensure_permission(db, actor, place, "users:read")
    return await repository.members(db, actor.environment.id, place.organization.id, after, limit)


async def admins(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID) -> list[uuid.UUID]:
    """The account ids of the organization's ORG_ADMINs as they are now, for showing which removals and
    demotions `policy.keeps_an_admin` would refuse (the changes themselves decide under lock)."""
    place = await place_of(db, actor, organization_id)
    await ensure_permission(db, actor, place, "users:read")
    return await repository.admins(db, actor.environment.id, place.organization.id)


async def count(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID) -> int:
    place = await place_of(db, actor, organization_id)
    await ensure_permission(db, actor, place, "users:read")
    return await repository.count_members(db, actor.environment.id, place.organization.id)


async def _role(db: AsyncSession, environment_id: uuid.UUID, name: str) -> Role:
    """The role, kept from deletion until the transaction ends."""
    role = await repository.role(db, environment_id, name, share=True)
    if role is None:
        raise bad_request("unknown_role", "There is no such role in this environment.", "role")
    return role


async def add_member(
    db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, body: MemberAdd
) -> tuple[Membership, EnvironmentAccount]:
    """Adds an existing end user of the same environment (by the tenant's side: `policy.add_directly`)."""
    place = await place_of(db, actor, organization_id)
    require(policy.add_directly(actor, place.membership))
    environment_id = actor.environment.id
    account = await end_users.find(db, environment_id, body.account_id)
    if account is None:
        raise not_found("account")
    await _role(db, environment_id, body.role)
    if await repository.membership(db, environment_id, place.organization.id, account.id) is not None:
        raise conflict("already_member", "This account is already a member of the organization.", "accountId")
    membership = Membership(
        environment_id=environment_id,
        organization_id=place.organization.id,
        environment_account_id=account.id,
        role=body.role,
    )
    await repository.add(db, membership)
    await _withdraw_invitations(db, account, place.organization.id)
    await record(db, actor, "membership.added", membership.organization_id, ref(account), role=body.role)
    return membership, account


async def _withdraw_invitations(db: AsyncSession, account: EnvironmentAccount, organization_id: uuid.UUID) -> None:
    """The member's pending invitations to the organization end when an admin adds or removes them, or they
    leave: a link followed later must not bring them back, or with another role."""
    kind = InvitationKind.ORGANIZATION
    await invitations.withdraw(db, account.tenant_id, kind, account.email, organization_id=organization_id)


async def change_role(
    db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, account_id: uuid.UUID, role: str
) -> None:
    place = await place_of(db, actor, organization_id)
    ensure_admin(actor, place)
    environment_id = actor.environment.id
    await _role(db, environment_id, role)
    admins = await repository.lock_admins(db, environment_id, place.organization.id)
    ensure_admin(actor, place, admins)  # again, now that concurrent changes are settled
    target = await repository.membership(db, environment_id, place.organization.id, account_id)
    if target is None:
        raise not_found("member")
    if target.role == role:
        return
    require(policy.keeps_an_admin(admins, target))
    previous, target.role = target.role, role
    member = Ref("environment_account", account_id)
    await record(db, actor, "membership.role_changed", target.organization_id, member, previous=previous, role=role)


async def remove_member(
    db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    """Removes a member (an ORG_ADMIN, or the member themselves leaving) and revokes the refresh tokens issued
    to them for this organization."""
    place = await place_of(db, actor, organization_id)
    leaving = place.membership is not None and place.membership.environment_account_id == account_id
    if not leaving:
        ensure_admin(actor, place)
    environment_id = actor.environment.id
    admins = await repository.lock_admins(db, environment_id, place.organization.id)
    if not leaving:
        ensure_admin(actor, place, admins)
    target = await repository.membership(db, environment_id, place.organization.id, account_id)
    if target is None:
        raise not_found("member")
    require(policy.keeps_an_admin(admins, target))
    await tokens.revoke_for_organization(db, environment_id, place.organization.id, account_id)
    account = await end_users.find(db, environment_id, account_id)
    if account is not None:
        await _withdraw_invitations(db, account, place.organization.id)
    await repository.remove(db, target)
    member = Ref("environment_account", account_id)
    await record(db, actor, "membership.removed", place.organization.id, member)
