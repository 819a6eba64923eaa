"""What the console reads and does beyond the API's routes, on the same rules: organizations found by a prefix
of their name, the ORG_ADMINs that the last-admin guard counts, how many members hold each role, and custom
permissions deleted only when no role grants them."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import EnvironmentActor, TenantActor
from sump.db.tables.audit import AuditEvent
from sump.db.tables.environments import Environment
from sump.kit.errors import Problem
from sump.organizations import policy
from sump.organizations.schemas import PermissionCreate, RoleCreate, RoleUpdate
from sump.organizations.service import catalog, members, organizations
from tests.organizations.support import add_member, create_org
from tests.support import TenantWorld
from tests.tenant_accounts.test_refusals import actor_of


async def acting(db: AsyncSession, actor: TenantActor, environment_id: str) -> EnvironmentActor:
    environment = await db.get(Environment, uuid.UUID(environment_id))
    assert environment is not None
    return EnvironmentActor(environment, manager=actor)


async def test_organizations_are_found_by_a_prefix_of_their_name(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    admin = await world.add_end_user(world.environment_id)
    tag = uuid.uuid4().hex[:6]
    for name in (f"Blue {tag}", f"blue_{tag}%", f"Red {tag}"):
        await create_org(client, admin, name)
    owner = await acting(db, await actor_of(db, world.owner.account_id), world.environment_id)
    found = await organizations.page(db, owner, None, 10, q="BLUE")
    assert [organization.name for organization, _ in found] == [f"Blue {tag}", f"blue_{tag}%"]
    assert [o.name for o, _ in await organizations.page(db, owner, None, 10, q="blue_")] == [f"blue_{tag}%"]
    assert await organizations.page(db, owner, None, 10, q="%") == []  # a wildcard is a character
    assert len(await organizations.page(db, owner, None, 10)) == 3


async def test_admins_and_role_holders_as_the_guard_sees_them(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, db: AsyncSession
) -> None:
    admin, member = [await world.add_end_user(world.environment_id) for _ in range(2)]
    organization_id = await create_org(client, admin)
    await add_member(client, world.owner, organization_id, member, "READ_ONLY")
    owner = await acting(db, await actor_of(db, world.owner.account_id), world.environment_id)
    admins = await members.admins(db, owner, uuid.UUID(organization_id))
    assert admins == [uuid.UUID(admin.account_id)]
    assert await members.count(db, owner, uuid.UUID(organization_id)) == 2
    holders = await catalog.role_holders(db, owner.manager, uuid.UUID(world.environment_id))  # type: ignore[arg-type]
    assert holders == {"ORG_ADMIN": 1, "ORG_USER": 0, "READ_ONLY": 1}
    stranger = await acting(db, await actor_of(db, other.owner.account_id), other.environment_id)
    with pytest.raises(Problem) as missing:
        await members.admins(db, stranger, uuid.UUID(organization_id))
    assert missing.value.status == 404


async def test_custom_permissions_are_deleted_only_when_no_role_grants_them(
    world: TenantWorld, other: TenantWorld, db: AsyncSession
) -> None:
    owner = await actor_of(db, world.owner.account_id)
    environment_id = uuid.UUID(world.environment_id)
    await catalog.create_permission(db, owner, environment_id, PermissionCreate(name="reports:read"))
    await catalog.create_role(db, owner, environment_id, RoleCreate(name="ANALYST", permissions=["reports:read"]))
    await db.commit()

    async def refusal(account_id: str, name: str) -> Problem:
        actor = await actor_of(db, account_id)  # again: a rollback expires what was loaded
        with pytest.raises(Problem) as refused:
            await catalog.delete_permission(db, actor, environment_id, name)
        await db.rollback()
        return refused.value

    in_use = await refusal(world.owner.account_id, "reports:read")
    assert (in_use.status, in_use.code) == (409, "permission_in_use")
    assert "ANALYST" in in_use.detail
    builtin = await refusal(world.owner.account_id, "projects:read")
    assert (builtin.status, builtin.code) == (409, "builtin_permission")
    user = (await world.add_member("user")).account_id
    assert (await refusal(user, "reports:read")).code == "insufficient_role"
    assert (await refusal(other.owner.account_id, "reports:read")).status == 404

    owner = await actor_of(db, world.owner.account_id)
    await catalog.update_role(db, owner, environment_id, "ANALYST", RoleUpdate(permissions=[]))
    await catalog.delete_permission(db, owner, environment_id, "reports:read")
    await db.commit()
    names = [permission.name for permission in await catalog.permissions(db, owner, environment_id)]
    assert "reports:read" not in names
    audited = await db.scalar(
        select(AuditEvent.action).where(
            AuditEvent.environment_id == environment_id, AuditEvent.action == "permission.deleted"
        )
    )
    assert audited == "permission.deleted"
    assert (await refusal(world.owner.account_id, "reports:read")).status == 404


def test_refusals_name_the_reason() -> None:
    assert policy.delete_permission("x:y", True, []) is not None
    in_use = policy.delete_permission("x:y", False, ["B", "A"])
    assert in_use is not None
    assert in_use.message == "Roles grant this permission (A, B): remove it from them first."
    assert policy.delete_permission("x:y", False, []) is None
    assert policy.delete_role("ORG_USER", True, 0) is not None
    held = policy.delete_role("ANALYST", False, 2)
    assert held is not None
    assert held.code == "role_in_use"
    assert policy.delete_role("ANALYST", False, 0) is None
