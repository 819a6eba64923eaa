"""The whole import: check both databases, then copy the original one tenant (one transaction) at a time."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sump.db.engine import make_engine, make_sessionmaker
from sump.importer.original.errors import SourceError, database_reason, reason_of
from sump.importer.original.mapping import as_uuid
from sump.importer.original.report import ImportReport, RowNote, plural
from sump.importer.original.source import (
    END_USERS,
    ENVIRONMENT,
    ENVIRONMENT_ACCOUNT,
    ENVIRONMENTS,
    TENANT,
    TENANT_ACCOUNT,
    TENANT_ACCOUNTS,
    TENANTS,
    check_source,
    connect,
    describe,
)
from sump.importer.original.writing import Writer, check_target, write_tenant


async def import_original(source: str, database_url: str) -> ImportReport:
    """Copies the original Sump database at `source` (a postgresql:// URL) into Sump's database at `database_url`.

    Raises `SourceError` or `TargetError` before writing anything when either database is unusable.
    """
    connection = await connect(source)
    where = describe(source)
    try:
        engine = make_engine(database_url)
        try:
            sessionmaker = make_sessionmaker(engine)
            try:
                left_behind = await check_source(connection, where)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                raise SourceError(f"cannot read the original database at {where}: {reason_of(exc)}") from exc
            await check_target(sessionmaker)
            try:
                async with connection.transaction(isolation="repeatable_read", readonly=True):
                    return await _copy(connection, sessionmaker, left_behind)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                raise SourceError(
                    f"reading the original database at {where} failed: {reason_of(exc)}. Tenants already copied "
                    "are complete; run the import again to copy the rest."
                ) from exc
        finally:
            await engine.dispose()
    finally:
        await connection.close()


async def _copy(source: Any, sessionmaker: async_sessionmaker[AsyncSession], left_behind: list[str]) -> ImportReport:
    report = ImportReport()
    for table in left_behind:
        report.left_behind[table] = int(await source.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
    await _skip_orphans(source, report)
    for tenant in await source.fetch(TENANTS):
        tenant_id = as_uuid(tenant["id"])
        environments = await source.fetch(ENVIRONMENTS, tenant_id)
        accounts = await source.fetch(TENANT_ACCOUNTS, tenant_id)
        end_users = await source.fetch(END_USERS, tenant_id)
        part = ImportReport()
        try:
            async with sessionmaker() as db, db.begin():
                await write_tenant(Writer(db), part, tenant, environments, accounts, end_users)
        except SQLAlchemyError as exc:
            what = (
                f"{plural(len(environments), 'environment')}, {plural(len(accounts), 'tenant account')} and "
                f"{plural(len(end_users), 'end user')}"
            )
            reason = f"Sump's database refused it ({database_reason(exc)}); with it {what}"
            report.failed.append(RowNote(TENANT, tenant_id, reason))
            continue
        report.merge(part)
    return report


async def _skip_orphans(source: Any, report: ImportReport) -> None:
    for row in await source.fetch("SELECT id FROM environment WHERE tenant_id IS NULL ORDER BY created_at, id"):
        report.skip(ENVIRONMENT, as_uuid(row["id"]), "orphan: it belongs to no tenant (tenant_id is NULL)")
    for row in await source.fetch("SELECT id FROM tenant_account WHERE tenant_id IS NULL ORDER BY created_at, id"):
        report.skip(TENANT_ACCOUNT, as_uuid(row["id"]), "orphan: it belongs to no tenant (tenant_id is NULL)")
    orphans = await source.fetch(
        "SELECT a.id, a.environment_id FROM environment_account a LEFT JOIN environment e ON e.id = a.environment_id "
        "WHERE e.tenant_id IS NULL ORDER BY a.created_at, a.id"
    )
    for row in orphans:
        if row["environment_id"] is None:
            reason = "orphan: it belongs to no environment (environment_id is NULL)"
        else:
            reason = f"orphan: its environment {row['environment_id']} belongs to no tenant"
        report.skip(ENVIRONMENT_ACCOUNT, as_uuid(row["id"]), reason)
