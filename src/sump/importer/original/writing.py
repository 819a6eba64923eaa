"""Writing one tenant of the original into Sump's database: its tenant, environments, accounts and end users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sump.db.scope import tenant
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.tenant_accounts import TenantAccount
from sump.db.tables.tenants import Tenant
from sump.importer.original.errors import TargetError, database_reason
from sump.importer.original.mapping import (
    ENVIRONMENT_NAME_LENGTH,
    TENANT_NAME_LENGTH,
    Claims,
    account_fields,
    as_uuid,
    aware,
    fit,
    identifiers_of,
    properties_of,
    role_of,
    unique_name,
)
from sump.importer.original.report import ImportReport
from sump.importer.original.source import ENVIRONMENT, ENVIRONMENT_ACCOUNT, TENANT, TENANT_ACCOUNT
from sump.kit.passwords import bcrypt_cost

BATCH = 500


async def check_target(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    try:
        async with sessionmaker() as db:
            for model in (Tenant, Environment, TenantAccount, EnvironmentAccount):
                await db.execute(select(model).limit(1))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise TargetError(
            f"Sump's database (SUMP_DATABASE_URL) is not ready: {database_reason(exc)}. "
            "Create its tables with `sump db upgrade` first."
        ) from exc


class Writer:
    """Adds rows to one tenant's transaction, flushing in batches so a large tenant does not pile up in memory."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.pending = 0

    async def add(self, row: Any) -> None:
        self.db.add(row)
        self.pending += 1
        if self.pending >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        await self.db.flush()
        self.db.expunge_all()
        self.pending = 0

    async def present(self, model: Any, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these ids Sump already holds."""
        found: set[uuid.UUID] = set()
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            found.update(await self.db.scalars(select(model.id).where(model.id.in_(chunk))))
        return found


async def write_tenant(
    writer: Writer,
    report: ImportReport,
    tenant: Any,
    environments: Sequence[Any],
    accounts: Sequence[Any],
    end_users: Sequence[Any],
) -> None:
    tenant_id = as_uuid(tenant["id"])
    if await writer.present(Tenant, [tenant_id]):
        report.present(TENANT)
    else:
        properties = properties_of(report, TENANT, tenant_id, tenant["custom_properties"])
        if properties is None:
            report.skip(TENANT, tenant_id, "custom_properties is not a JSON object")
            reason = f"its tenant {tenant_id} was skipped"
            for table, rows in (
                (ENVIRONMENT, environments),
                (TENANT_ACCOUNT, accounts),
                (ENVIRONMENT_ACCOUNT, end_users),
            ):
                for row in rows:
                    report.skip(table, as_uuid(row["id"]), reason)
            return
        name = fit(report, TENANT, tenant_id, "name", tenant["name"], TENANT_NAME_LENGTH)
        await writer.add(
            Tenant(
                id=tenant_id,
                name=name,
                custom_properties=properties,
                created_at=aware(tenant["created_at"]),
                updated_at=aware(tenant["updated_at"]),
            )
        )
        report.imported(TENANT)
    await writer.flush()
    usable = await write_environments(writer, report, tenant_id, environments)
    await write_tenant_accounts(writer, report, tenant_id, accounts)
    await write_end_users(writer, report, tenant_id, usable, end_users)
    await writer.flush()
    await keep_legacy_hash_costs(writer.db, tenant_id)


async def keep_legacy_hash_costs(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    """The tenant and each of its environments keep the highest cost of the bcrypt hashes they now hold, read as
    `kit.passwords.bcrypt_cost` reads one (see `db.base.DecoySeeded`): their password checks then all cost what
    checking one of those does. The original's update times stay."""
    in_tenant, legacy = tenant(tenant_id), "$2%"
    staff = await db.scalars(
        in_tenant.select(TenantAccount.password_hash).where(TenantAccount.password_hash.like(legacy))
    )
    users = await db.execute(
        in_tenant.select(EnvironmentAccount.environment_id, EnvironmentAccount.password_hash).where(
            EnvironmentAccount.password_hash.like(legacy)
        )
    )
    costs: dict[uuid.UUID | None, int] = {}
    for pool_id, stored in [*((None, stored) for stored in staff), *users]:
        cost = bcrypt_cost(stored)
        if cost is not None:
            costs[pool_id] = max(costs.get(pool_id, 0), cost)
    await db.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(legacy_hash_cost=costs.get(None), updated_at=Tenant.updated_at)
    )
    for environment_id in await db.scalars(in_tenant.select(Environment.id)):
        of_environment = update(Environment).where(Environment.id == environment_id)
        cost = costs.get(environment_id)
        await db.execute(of_environment.values(legacy_hash_cost=cost, updated_at=Environment.updated_at))


async def write_environments(
    writer: Writer, report: ImportReport, tenant_id: uuid.UUID, rows: Sequence[Any]
) -> set[uuid.UUID]:
    """Adds the tenant's new environments; answers the ids of its environments that Sump now holds. An id that
    Sump holds for another tenant's environment is skipped, and its end users with it: they are written only into
    an environment of their own tenant."""
    present = await writer.present(Environment, [as_uuid(row["id"]) for row in rows])
    taken = set(await writer.db.scalars(tenant(tenant_id).select(Environment.name)))
    usable = set(await writer.db.scalars(tenant(tenant_id).select(Environment.id))) & present
    for row in rows:
        environment_id = as_uuid(row["id"])
        if environment_id in usable:
            report.present(ENVIRONMENT)
            continue
        if environment_id in present:
            report.skip(ENVIRONMENT, environment_id, "Sump holds this id for an environment of another tenant")
            continue
        properties = properties_of(report, ENVIRONMENT, environment_id, row["custom_properties"])
        if properties is None:
            report.skip(ENVIRONMENT, environment_id, "custom_properties is not a JSON object")
            continue
        name = fit(report, ENVIRONMENT, environment_id, "name", row["name"], ENVIRONMENT_NAME_LENGTH)
        unique = unique_name(name, taken, ENVIRONMENT_NAME_LENGTH)
        if unique != name:
            change = f"renamed {name!r} to {unique!r}: environment names are unique per tenant in Sump"
            report.adjust(ENVIRONMENT, environment_id, change)
        taken.add(unique)
        await writer.add(
            Environment(
                id=environment_id,
                tenant_id=tenant_id,
                name=unique,
                custom_properties=properties,
                created_at=aware(row["created_at"]),
                updated_at=aware(row["updated_at"]),
            )
        )
        usable.add(environment_id)
        report.imported(ENVIRONMENT)
    await writer.flush()
    return usable


async def write_tenant_accounts(
    writer: Writer, report: ImportReport, tenant_id: uuid.UUID, rows: Sequence[Any]
) -> None:
    present = await writer.present(TenantAccount, [as_uuid(row["id"]) for row in rows])
    claims = Claims("tenant account")
    existing = await writer.db.execute(
        tenant(tenant_id).select(TenantAccount.id, TenantAccount.email, TenantAccount.phone, TenantAccount.username)
    )
    for held in existing:
        claims.claim(held.id, {"email": held.email, "phone": held.phone, "username": held.username})
    for row in rows:
        account_id = as_uuid(row["id"])
        if account_id in present:
            report.present(TENANT_ACCOUNT)
            continue
        identifiers = identifiers_of(row)
        if isinstance(identifiers, str):
            report.skip(TENANT_ACCOUNT, account_id, identifiers)
            continue
        clash = claims.clash(identifiers)
        if clash is not None:
            report.skip(TENANT_ACCOUNT, account_id, clash)
            continue
        claims.claim(account_id, identifiers)
        role, dropped = role_of(row["roles"], tenant_id)
        for change in dropped:
            report.adjust(TENANT_ACCOUNT, account_id, change)
        fields = account_fields(report, TENANT_ACCOUNT, row, identifiers)
        await writer.add(TenantAccount(tenant_id=tenant_id, role=role, **fields))
        report.imported(TENANT_ACCOUNT)


async def write_end_users(
    writer: Writer, report: ImportReport, tenant_id: uuid.UUID, environments: set[uuid.UUID], rows: Sequence[Any]
) -> None:
    present = await writer.present(EnvironmentAccount, [as_uuid(row["id"]) for row in rows])
    claims: dict[uuid.UUID, Claims] = {}
    existing = await writer.db.execute(
        tenant(tenant_id).select(
            EnvironmentAccount.id,
            EnvironmentAccount.environment_id,
            EnvironmentAccount.email,
            EnvironmentAccount.phone,
            EnvironmentAccount.username,
        )
    )
    for held in existing:
        pool = claims.setdefault(held.environment_id, Claims("end user"))
        pool.claim(held.id, {"email": held.email, "phone": held.phone, "username": held.username})
    for row in rows:
        account_id, environment_id = as_uuid(row["id"]), as_uuid(row["environment_id"])
        if account_id in present:
            report.present(ENVIRONMENT_ACCOUNT)
            continue
        if environment_id not in environments:
            report.skip(ENVIRONMENT_ACCOUNT, account_id, f"its environment {environment_id} was skipped")
            continue
        identifiers = identifiers_of(row)
        if isinstance(identifiers, str):
            report.skip(ENVIRONMENT_ACCOUNT, account_id, identifiers)
            continue
        pool = claims.setdefault(environment_id, Claims("end user"))
        clash = pool.clash(identifiers)
        if clash is not None:
            report.skip(ENVIRONMENT_ACCOUNT, account_id, clash)
            continue
        properties = properties_of(report, ENVIRONMENT_ACCOUNT, account_id, row["custom_properties"])
        if properties is None:
            report.skip(ENVIRONMENT_ACCOUNT, account_id, "custom_properties is not a JSON object")
            continue
        pool.claim(account_id, identifiers)
        fields = account_fields(report, ENVIRONMENT_ACCOUNT, row, identifiers)
        await writer.add(
            EnvironmentAccount(
                tenant_id=tenant_id, environment_id=environment_id, custom_properties=properties, **fields
            )
        )
        report.imported(ENVIRONMENT_ACCOUNT)
