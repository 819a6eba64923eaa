"""SQL for organizations, memberships, roles and the permission catalog: every statement starts from
`scope.environment`, and a join binds both of its sides."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.folded import fold
from sump.db.scope import environment, tenant
from sump.db.tables.clients import Client, ClientPurpose
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.organizations import ORG_ADMIN, Membership, Organization, Permission, Role

# --- organizations ------------------------------------------------------------------------------------------


async def get(db: AsyncSession, environment_id: uuid.UUID, organization_id: uuid.UUID) -> Organization | None:
    return await db.scalar(environment(environment_id).select(Organization).where(Organization.id == organization_id))


async def page(
    db: AsyncSession, environment_id: uuid.UUID, after: uuid.UUID | None, limit: int, q: str | None = None
) -> list[Organization]:
    """Every organization of the environment (whose name starts with `q`, both folded: `db.folded`), oldest first."""
    statement = environment(environment_id).select(Organization)
    if q:
        statement = statement.where(Organization.name_folded.startswith(fold(q), autoescape=True))
    if after is not None:
        statement = statement.where(Organization.id > after)
    return list(await db.scalars(statement.order_by(Organization.id).limit(limit)))


async def page_of_member(
    db: AsyncSession, environment_id: uuid.UUID, account_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[tuple[Organization, str]]:
    """The organizations the account belongs to, with its role in each, oldest first."""
    statement = (
        environment(environment_id)
        .select(Organization, Membership.role)  # binds both the organization and the membership
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.environment_account_id == account_id)
    )
    if after is not None:
        statement = statement.where(Organization.id > after)
    rows = await db.execute(statement.order_by(Organization.id).limit(limit))
    return [(organization, role) for organization, role in rows]


async def name_taken(db: AsyncSession, environment_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None) -> bool:
    """Whether another organization of the environment has this name, in any case or width (`fold`): one would
    pass for the other before the members who read them."""
    statement = environment(environment_id).select(Organization.id).where(Organization.name_folded == fold(name))
    if exclude is not None:
        statement = statement.where(Organization.id != exclude)
    return await db.scalar(statement.limit(1)) is not None


async def add(db: AsyncSession, row: Organization | Membership | Permission | Role) -> None:
    db.add(row)  # an insert: the row carries its environment_id
    await db.flush()


async def remove(db: AsyncSession, row: Organization | Membership | Role) -> None:
    await db.delete(row)  # by primary key, of a row the caller loaded through its environment's scope
    await db.flush()


# --- memberships --------------------------------------------------------------------------------------------


async def membership(
    db: AsyncSession, environment_id: uuid.UUID, organization_id: uuid.UUID, account_id: uuid.UUID
) -> Membership | None:
    return await db.scalar(
        environment(environment_id)
        .select(Membership)
        .where(Membership.organization_id == organization_id, Membership.environment_account_id == account_id)
        .execution_options(populate_existing=True)
    )


async def memberships_of(
    db: AsyncSession, environment_id: uuid.UUID, account_id: uuid.UUID, limit: int
) -> list[Membership]:
    """At most `limit` of the account's memberships, oldest first."""
    statement = (
        environment(environment_id)
        .select(Membership)
        .where(Membership.environment_account_id == account_id)
        .order_by(Membership.id)
        .limit(limit)
    )
    return list(await db.scalars(statement))


async def members(
    db: AsyncSession, environment_id: uuid.UUID, organization_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[tuple[Membership, EnvironmentAccount]]:
    """The organization's members with their accounts, in the order they joined."""
    statement = (
        environment(environment_id)
        .select(Membership, EnvironmentAccount)  # binds both the membership and the account
        .join(EnvironmentAccount, EnvironmentAccount.id == Membership.environment_account_id)
        .where(Membership.organization_id == organization_id)
    )
    if after is not None:
        statement = statement.where(Membership.id > after)
    rows = await db.execute(statement.order_by(Membership.id).limit(limit))
    return [(member, account) for member, account in rows]


async def lock_admins(db: AsyncSession, environment_id: uuid.UUID, organization_id: uuid.UUID) -> list[uuid.UUID]:
    """Account ids of the organization's enabled ORG_ADMINs, their memberships locked until the transaction ends
    (serialises changes that could remove the last one).

    PostgreSQL locks the rows. SQLite has no row locks, and its driver opens a transaction only at the first
    write, so a no-op write comes first: it takes the database write lock, and the read after it is current.
    """
    scope = environment(environment_id)
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(
            scope.update(Organization)
            .where(Organization.id == organization_id)
            .values(updated_at=Organization.updated_at)
        )
    return list(await db.scalars(_enabled_admins(environment_id, organization_id).with_for_update(of=Membership)))


async def admins(db: AsyncSession, environment_id: uuid.UUID, organization_id: uuid.UUID) -> list[uuid.UUID]:
    """Account ids of the organization's ORG_ADMINs, as read now (no lock: for showing, not for deciding)."""
    return list(await db.scalars(_enabled_admins(environment_id, organization_id)))


def _enabled_admins(environment_id: uuid.UUID, organization_id: uuid.UUID) -> Select[uuid.UUID]:
    """The organization's ORG_ADMINs who can act: a disabled account's membership does not keep it governed."""
    return (
        environment(environment_id)
        .select(Membership.environment_account_id)
        .join(EnvironmentAccount, EnvironmentAccount.id == Membership.environment_account_id)
        .where(
            Membership.organization_id == organization_id,
            Membership.role == ORG_ADMIN,
            EnvironmentAccount.disabled.is_(False),
        )
        .order_by(Membership.id)
    )


async def count_members(db: AsyncSession, environment_id: uuid.UUID, organization_id: uuid.UUID) -> int:
    statement = environment(environment_id).count(Membership).where(Membership.organization_id == organization_id)
    return int(await db.scalar(statement) or 0)


async def holders_by_role(db: AsyncSession, environment_id: uuid.UUID) -> dict[str, int]:
    """How many memberships of the environment hold each role (roles nobody holds are left out)."""
    statement = environment(environment_id).select(Membership.role, func.count(Membership.id)).group_by(Membership.role)
    return {role: int(count) for role, count in await db.execute(statement)}


async def count_with_role(db: AsyncSession, environment_id: uuid.UUID, role: str) -> int:
    statement = environment(environment_id).count(Membership).where(Membership.role == role)
    return int(await db.scalar(statement) or 0)


# --- roles and permissions ----------------------------------------------------------------------------------


async def role(db: AsyncSession, environment_id: uuid.UUID, name: str, *, share: bool = False) -> Role | None:
    """The role; with `share`, kept from deletion until the transaction ends (a shared row lock on
    PostgreSQL; on SQLite a no-op write first takes the database write lock, as in `lock_admins`)."""
    scope = environment(environment_id)
    if share and db.get_bind().dialect.name == "sqlite":
        await db.execute(scope.update(Role).where(Role.name == name).values(updated_at=Role.updated_at))
    statement = scope.select(Role).where(Role.name == name).execution_options(populate_existing=True)
    if share:
        statement = statement.with_for_update(read=True)
    return await db.scalar(statement)


async def roles(db: AsyncSession, environment_id: uuid.UUID) -> list[Role]:
    return list(await db.scalars(environment(environment_id).select(Role).order_by(Role.name)))


async def permissions(db: AsyncSession, environment_id: uuid.UUID) -> list[Permission]:
    return list(await db.scalars(environment(environment_id).select(Permission).order_by(Permission.name)))


async def permission_names(
    db: AsyncSession, environment_id: uuid.UUID, names: Sequence[str], *, share: bool = False
) -> set[str]:
    """Which of `names` are in the environment's catalog; with `share`, kept from deletion until the transaction
    ends (as `role` does), so a role cannot be given a permission that is being deleted."""
    if not names:
        return set()
    scope = environment(environment_id)
    if share and db.get_bind().dialect.name == "sqlite":
        await db.execute(
            scope.update(Permission).where(Permission.name.in_(names)).values(description=Permission.description)
        )
    statement = scope.select(Permission.name).where(Permission.name.in_(names))
    if share:
        statement = statement.with_for_update(read=True)
    return set(await db.scalars(statement))


async def seeded(db: AsyncSession, environment_id: uuid.UUID) -> bool:
    """Whether the environment has its built-in roles (which cannot be deleted once there)."""
    statement = environment(environment_id).select(Role.id).where(Role.name == ORG_ADMIN)
    return await db.scalar(statement.limit(1)) is not None


async def insert_missing(db: AsyncSession, model: type[Permission | Role], rows: list[dict[str, Any]]) -> None:
    """Inserts the rows whose (environment, name) is not taken yet; concurrent seeders do not collide."""
    # Not scoped: an insert; each row carries its environment_id (and the conflict target includes it).
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).on_conflict_do_nothing(index_elements=["environment_id", "name"])
    await db.execute(statement, rows)


async def delete_permission(db: AsyncSession, environment_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """Deletes the catalog entry and returns its id (None when there was none); locked like `delete_role`."""
    statement = environment(environment_id).delete(Permission).where(Permission.name == name).returning(Permission.id)
    return await db.scalar(statement)


async def delete_role(db: AsyncSession, environment_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """Deletes the role and returns its id (None when there was none); the row lock (or SQLite's write lock) is
    held until the transaction ends."""
    statement = environment(environment_id).delete(Role).where(Role.name == name).returning(Role.id)
    return await db.scalar(statement)


async def automation_permissions(db: AsyncSession, tenant_id: uuid.UUID, pk: uuid.UUID) -> list[str] | None:
    """The permissions of the tenant's automation client with this id, None when there is none (deleted)."""
    statement = tenant(tenant_id).select(Client.permissions)
    return await db.scalar(statement.where(Client.id == pk, Client.purpose == ClientPurpose.AUTOMATION))
