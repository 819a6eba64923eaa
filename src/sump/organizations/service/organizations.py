"""Organizations: created by any end user of the environment (who becomes its ORG_ADMIN) or by the tenant's
owners and admins naming the end user who does; names unique per environment; renamed and deleted by an
ORG_ADMIN or the tenant's owners and admins."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import EnvironmentActor
from sump.access.policy import require
from sump.db.tables.organizations import ORG_ADMIN, Membership, Organization
from sump.environment_accounts import service as end_users
from sump.environments import policy as environment_policy
from sump.kit.audit import Ref
from sump.kit.errors import bad_request, conflict, not_found
from sump.organizations import repository
from sump.organizations.schemas import OrganizationCreate
from sump.organizations.service.access import ensure_admin, manager, place_of, record
from sump.organizations.service.catalog import ensure_seeded
from sump.tokens import service as tokens


async def _ensure_name_free(
    db: AsyncSession, environment_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None
) -> None:
    if await repository.name_taken(db, environment_id, name, exclude):
        raise conflict("organization_name_taken", "Another organization of this environment has this name.", "name")


async def create(db: AsyncSession, actor: EnvironmentActor, body: OrganizationCreate) -> Organization:
    environment = actor.environment
    if actor.end_user is not None:
        if body.admin_account_id not in (None, actor.end_user.account.id):
            raise bad_request(
                "admin_account_not_allowed",
                "An end user who creates an organization becomes its ORG_ADMIN.",
                "adminAccountId",
            )
        admin_id = actor.end_user.account.id
    else:
        require(environment_policy.manage(manager(actor)))
        if body.admin_account_id is None:
            raise bad_request(
                "admin_account_required", "Name the end user who becomes the first ORG_ADMIN.", "adminAccountId"
            )
        account = await end_users.find(db, environment.id, body.admin_account_id)
        if account is None:
            raise not_found("account")
        admin_id = account.id
    await ensure_seeded(db, environment.id)
    await _ensure_name_free(db, environment.id, body.name)
    organization = Organization(tenant_id=environment.tenant_id, environment_id=environment.id, name=body.name)
    await repository.add(db, organization)
    await repository.add(
        db,
        Membership(
            environment_id=environment.id,
            organization_id=organization.id,
            environment_account_id=admin_id,
            role=ORG_ADMIN,
        ),
    )
    await record(db, actor, "organization.created", organization.id, Ref("organization", organization.id))
    return organization


async def page(
    db: AsyncSession, actor: EnvironmentActor, after: uuid.UUID | None, limit: int, q: str | None = None
) -> list[tuple[Organization, str | None]]:
    """An end user's own organizations with their role in each; for tenant accounts, all of them, or those whose
    name starts with `q` (ignoring case)."""
    if actor.end_user is not None:
        mine = await repository.page_of_member(db, actor.environment.id, actor.end_user.account.id, after, limit)
        return [(organization, role) for organization, role in mine]
    found = await repository.page(db, actor.environment.id, after, limit, q)
    return [(organization, None) for organization in found]


async def get(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID) -> tuple[Organization, str | None]:
    place = await place_of(db, actor, organization_id)
    return place.organization, place.membership.role if place.membership else None


async def rename(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, name: str) -> None:
    place = await place_of(db, actor, organization_id)
    ensure_admin(actor, place)
    organization = place.organization
    if organization.name == name:
        return
    await _ensure_name_free(db, actor.environment.id, name, organization.id)
    organization.name = name
    await record(db, actor, "organization.renamed", organization.id, Ref("organization", organization.id))


async def delete(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID) -> None:
    """Deletes the organization with its memberships, and revokes the refresh tokens issued for it."""
    place = await place_of(db, actor, organization_id)
    ensure_admin(actor, place)
    await tokens.revoke_for_organization(db, actor.environment.id, place.organization.id, None)
    await repository.remove(db, place.organization)
    organization_id = place.organization.id
    await record(db, actor, "organization.deleted", organization_id, Ref("organization", organization_id))
