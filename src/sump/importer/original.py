"""`sump import original`: copies the database of the original Sump (Node.js, PostgreSQL) into Sump's database.

What is copied, keeping every id and timestamp:

- `tenant` → Tenant (name, custom properties);
- `environment` → Environment; names are unique per tenant in Sump, so a repeated name gets " (2)", " (3)" …;
- `tenant_account` → TenantAccount, with the role its `roles` JSON gives it on its own tenant ("user" when none);
  role elements naming another tenant (the original's privilege-escalation bug) or an environment are dropped;
- `environment_account` → EnvironmentAccount (its tenant is its environment's), custom properties kept.

Identifiers are stored normalised, as Sump stores them (email NFKC and lower-cased, username case-folded, phone
E.164). bcrypt hashes are kept as they are and become argon2id at the account's next sign-in. Rows that cannot be
imported (orphans, invalid identifiers, identifiers that collide after normalisation) are skipped and listed with
the reason. Sessions and password reset tokens are not imported: the original stored them in plain text.

Safe to run again: a row whose id is already in Sump is counted as already present and left untouched. The original
database is only read, in one repeatable-read snapshot; Sump's database is written in one transaction per tenant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sump.db.engine import make_engine, make_sessionmaker
from sump.environment_accounts.models import EnvironmentAccount
from sump.environments.models import Environment
from sump.kit.custom_properties import check_limits
from sump.kit.errors import Problem
from sump.kit.identifiers import normalize_email, normalize_phone, normalize_username
from sump.kit.passwords import BCRYPT_PREFIXES
from sump.tenant_accounts.models import TenantAccount, TenantRole
from sump.tenants.models import Tenant

TENANT = "tenant"
ENVIRONMENT = "environment"
TENANT_ACCOUNT = "tenant_account"
ENVIRONMENT_ACCOUNT = "environment_account"
TABLES = (TENANT, ENVIRONMENT, TENANT_ACCOUNT, ENVIRONMENT_ACCOUNT)
LEFT_BEHIND = ("session", "password_reset_token")

_IDENTITY_COLUMNS = (
    "id",
    "email",
    "email_verified",
    "phone",
    "phone_verified",
    "username",
    "name",
    "avatar_url",
    "password_hash",
    "disabled",
    "disabled_at",
    "created_at",
    "updated_at",
)
SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    TENANT: ("id", "name", "custom_properties", "created_at", "updated_at"),
    ENVIRONMENT: ("id", "tenant_id", "name", "custom_properties", "created_at", "updated_at"),
    TENANT_ACCOUNT: (*_IDENTITY_COLUMNS, "tenant_id", "roles"),
    ENVIRONMENT_ACCOUNT: (*_IDENTITY_COLUMNS, "environment_id", "custom_properties"),
}
BATCH = 500
IDENTIFIERS = ("email", "phone", "username")


def _max_length(model: Any, column: str) -> int:
    return int(model.__table__.c[column].type.length)


TENANT_NAME_LENGTH = _max_length(Tenant, "name")
ENVIRONMENT_NAME_LENGTH = _max_length(Environment, "name")
PERSON_NAME_LENGTH = _max_length(TenantAccount, "name")
EMAIL_LENGTH = _max_length(TenantAccount, "email")
USERNAME_LENGTH = _max_length(TenantAccount, "username")
AVATAR_URL_LENGTH = _max_length(TenantAccount, "avatar_url")


class ImportFailed(Exception):
    """The import cannot go on; the message says why, for the person running it."""


class SourceError(ImportFailed):
    """The original database cannot be reached or read, or does not look like an original Sump database."""


class TargetError(ImportFailed):
    """Sump's own database is not ready to receive the import."""


@dataclass
class TableCounts:
    imported: int = 0
    already_present: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class RowNote:
    """One row of the original database and what happened to it."""

    table: str
    id: uuid.UUID
    reason: str


@dataclass
class ImportReport:
    counts: dict[str, TableCounts] = field(default_factory=lambda: {table: TableCounts() for table in TABLES})
    skipped: list[RowNote] = field(default_factory=list)
    """Rows not imported, with the reason."""
    adjusted: list[RowNote] = field(default_factory=list)
    """Rows imported with a change: an environment renamed, role elements dropped, a name shortened."""
    failed: list[RowNote] = field(default_factory=list)
    """Tenants whose transaction Sump's database refused: nothing of them was written."""
    left_behind: dict[str, int] = field(default_factory=dict)
    """Rows of tables that are never imported (sessions, reset tokens), by table."""

    @property
    def complete(self) -> bool:
        return not self.failed

    def imported(self, table: str) -> None:
        self.counts[table].imported += 1

    def present(self, table: str) -> None:
        self.counts[table].already_present += 1

    def skip(self, table: str, row_id: uuid.UUID, reason: str) -> None:
        self.counts[table].skipped += 1
        self.skipped.append(RowNote(table, row_id, reason))

    def adjust(self, table: str, row_id: uuid.UUID, change: str) -> None:
        self.adjusted.append(RowNote(table, row_id, change))

    def merge(self, other: ImportReport) -> None:
        for table in TABLES:
            mine, theirs = self.counts[table], other.counts[table]
            mine.imported += theirs.imported
            mine.already_present += theirs.already_present
            mine.skipped += theirs.skipped
        self.skipped.extend(other.skipped)
        self.adjusted.extend(other.adjusted)
        self.failed.extend(other.failed)

    def render(self) -> str:
        lines = [f"{'table':<22}{'imported':>10}{'already present':>18}{'skipped':>10}"]
        for table in TABLES:
            counts = self.counts[table]
            lines.append(f"{table:<22}{counts.imported:>10}{counts.already_present:>18}{counts.skipped:>10}")
        if self.skipped:
            lines += ["", f"Skipped rows ({len(self.skipped)}), not imported (fix them in the original and run again):"]
            lines += [f"  {note.table} {note.id}: {note.reason}" for note in self.skipped]
        if self.adjusted:
            lines += ["", f"Imported with changes ({len(self.adjusted)}):"]
            lines += [f"  {note.table} {note.id}: {note.reason}" for note in self.adjusted]
        if self.failed:
            lines += ["", f"FAILED tenants ({len(self.failed)}), nothing of them was written:"]
            lines += [f"  {note.table} {note.id}: {note.reason}" for note in self.failed]
        found = ""
        if self.left_behind:
            sessions = _plural(self.left_behind.get("session", 0), "session")
            tokens = _plural(self.left_behind.get("password_reset_token", 0), "password reset token")
            found = f" ({sessions} and {tokens} in the original)"
        lines += [
            "",
            f"Not imported, by design: sessions and password reset tokens{found}.",
            "  The original stored them in plain text: everyone signs in again, with the same password, and asks",
            "  for a new reset link if they need one.",
            "Passwords: bcrypt hashes are kept as they are; each becomes argon2id at the account's next sign-in.",
            "Safe to run again: rows already in Sump are left untouched and counted as already present.",
        ]
        return "\n".join(lines)


async def import_original(source: str, database_url: str) -> ImportReport:
    """Copies the original Sump database at `source` (a postgresql:// URL) into Sump's database at `database_url`.

    Raises `SourceError` or `TargetError` before writing anything when either database is unusable.
    """
    connection = await _connect(source)
    where = describe(source)
    try:
        engine = make_engine(database_url)
        try:
            sessionmaker = make_sessionmaker(engine)
            try:
                left_behind = await _check_source(connection, where)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                raise SourceError(f"cannot read the original database at {where}: {_reason(exc)}") from exc
            await _check_target(sessionmaker)
            try:
                async with connection.transaction(isolation="repeatable_read", readonly=True):
                    return await _copy(connection, sessionmaker, left_behind)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                raise SourceError(
                    f"reading the original database at {where} failed: {_reason(exc)}. Tenants already copied "
                    "are complete; run the import again to copy the rest."
                ) from exc
        finally:
            await engine.dispose()
    finally:
        await connection.close()


def describe(source: str) -> str:
    """host:port/database of a URL, without the user name or password."""
    try:
        parts = urlsplit(source)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{parts.path.lstrip('/') or '(default)'}"
    except ValueError:
        return "the --from URL"


async def _connect(source: str) -> Any:
    dsn = source.replace("postgresql+asyncpg://", "postgresql://", 1)
    if not dsn.startswith(("postgresql://", "postgres://")):
        raise SourceError(
            "the original database must be given as a PostgreSQL URL, like postgresql://user:password@host:5432/sump"
        )
    try:
        connection = await asyncpg.connect(
            dsn, timeout=10, server_settings={"application_name": "sump-import-original"}
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        raise SourceError(f"cannot reach the original database at {describe(dsn)}: {_reason(exc)}") from exc
    for kind in ("json", "jsonb"):
        await connection.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    return connection


async def _check_source(connection: Any, where: str) -> list[str]:
    """Refuses a database without the original's tables and columns; answers which left-behind tables exist."""
    rows = await connection.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = ANY(current_schemas(false)) AND table_name = ANY($1::text[])",
        [*TABLES, *LEFT_BEHIND],
    )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["table_name"], set()).add(row["column_name"])
    unlike = f"{where} does not look like an original Sump database"
    missing_tables = [table for table in TABLES if table not in found]
    if missing_tables:
        raise SourceError(f"{unlike}: table {', '.join(missing_tables)} missing")
    missing_columns = [f"{t}.{c}" for t in TABLES for c in SOURCE_COLUMNS[t] if c not in found[t]]
    if missing_columns:
        raise SourceError(f"{unlike}: column {', '.join(missing_columns)} missing")
    return [table for table in LEFT_BEHIND if table in found]


async def _check_target(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    try:
        async with sessionmaker() as db:
            for model in (Tenant, Environment, TenantAccount, EnvironmentAccount):
                await db.execute(select(model).limit(1))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise TargetError(
            f"Sump's database (SUMP_DATABASE_URL) is not ready: {_database_reason(exc)}. "
            "Create its tables with `sump db upgrade` first."
        ) from exc


def _query(table: str, rest: str, alias: str = "") -> str:
    """SELECT of the columns we read; every name comes from SOURCE_COLUMNS, never from input."""
    columns = ", ".join(f"{alias}.{column}" if alias else column for column in SOURCE_COLUMNS[table])
    return f"SELECT {columns} FROM {rest}"  # noqa: S608


_TENANTS = _query(TENANT, "tenant ORDER BY created_at, id")
_ENVIRONMENTS = _query(ENVIRONMENT, "environment WHERE tenant_id = $1 ORDER BY created_at, id")
_TENANT_ACCOUNTS = _query(TENANT_ACCOUNT, "tenant_account WHERE tenant_id = $1 ORDER BY created_at, id")
_END_USERS = _query(
    ENVIRONMENT_ACCOUNT,
    "environment_account a JOIN environment e ON e.id = a.environment_id "
    "WHERE e.tenant_id = $1 ORDER BY a.created_at, a.id",
    alias="a",
)


async def _copy(source: Any, sessionmaker: async_sessionmaker[AsyncSession], left_behind: list[str]) -> ImportReport:
    report = ImportReport()
    for table in left_behind:
        report.left_behind[table] = int(await source.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
    await _skip_orphans(source, report)
    for tenant in await source.fetch(_TENANTS):
        tenant_id = _uuid(tenant["id"])
        environments = await source.fetch(_ENVIRONMENTS, tenant_id)
        accounts = await source.fetch(_TENANT_ACCOUNTS, tenant_id)
        end_users = await source.fetch(_END_USERS, tenant_id)
        part = ImportReport()
        try:
            async with sessionmaker() as db, db.begin():
                await _write_tenant(_Writer(db), part, tenant, environments, accounts, end_users)
        except SQLAlchemyError as exc:
            what = (
                f"{_plural(len(environments), 'environment')}, {_plural(len(accounts), 'tenant account')} and "
                f"{_plural(len(end_users), 'end user')}"
            )
            reason = f"Sump's database refused it ({_database_reason(exc)}); with it {what}"
            report.failed.append(RowNote(TENANT, tenant_id, reason))
            continue
        report.merge(part)
    return report


async def _skip_orphans(source: Any, report: ImportReport) -> None:
    for row in await source.fetch("SELECT id FROM environment WHERE tenant_id IS NULL ORDER BY created_at, id"):
        report.skip(ENVIRONMENT, _uuid(row["id"]), "orphan: it belongs to no tenant (tenant_id is NULL)")
    for row in await source.fetch("SELECT id FROM tenant_account WHERE tenant_id IS NULL ORDER BY created_at, id"):
        report.skip(TENANT_ACCOUNT, _uuid(row["id"]), "orphan: it belongs to no tenant (tenant_id is NULL)")
    orphans = await source.fetch(
        "SELECT a.id, a.environment_id FROM environment_account a LEFT JOIN environment e ON e.id = a.environment_id "
        "WHERE e.tenant_id IS NULL ORDER BY a.created_at, a.id"
    )
    for row in orphans:
        if row["environment_id"] is None:
            reason = "orphan: it belongs to no environment (environment_id is NULL)"
        else:
            reason = f"orphan: its environment {row['environment_id']} belongs to no tenant"
        report.skip(ENVIRONMENT_ACCOUNT, _uuid(row["id"]), reason)


class _Writer:
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


async def _write_tenant(
    writer: _Writer,
    report: ImportReport,
    tenant: Any,
    environments: Sequence[Any],
    accounts: Sequence[Any],
    end_users: Sequence[Any],
) -> None:
    tenant_id = _uuid(tenant["id"])
    if await writer.present(Tenant, [tenant_id]):
        report.present(TENANT)
    else:
        properties = _properties(report, TENANT, tenant_id, tenant["custom_properties"])
        if properties is None:
            report.skip(TENANT, tenant_id, "custom_properties is not a JSON object")
            reason = f"its tenant {tenant_id} was skipped"
            for table, rows in (
                (ENVIRONMENT, environments),
                (TENANT_ACCOUNT, accounts),
                (ENVIRONMENT_ACCOUNT, end_users),
            ):
                for row in rows:
                    report.skip(table, _uuid(row["id"]), reason)
            return
        name = _fit(report, TENANT, tenant_id, "name", tenant["name"], TENANT_NAME_LENGTH)
        await writer.add(
            Tenant(
                id=tenant_id,
                name=name,
                custom_properties=properties,
                created_at=_when(tenant["created_at"]),
                updated_at=_when(tenant["updated_at"]),
            )
        )
        report.imported(TENANT)
    await writer.flush()
    usable = await _write_environments(writer, report, tenant_id, environments)
    await _write_tenant_accounts(writer, report, tenant_id, accounts)
    await _write_end_users(writer, report, tenant_id, usable, end_users)
    await writer.flush()


async def _write_environments(
    writer: _Writer, report: ImportReport, tenant_id: uuid.UUID, rows: Sequence[Any]
) -> set[uuid.UUID]:
    """Adds the tenant's new environments; answers the ids of its environments that Sump now holds."""
    present = await writer.present(Environment, [_uuid(row["id"]) for row in rows])
    taken = set(await writer.db.scalars(select(Environment.name).where(Environment.tenant_id == tenant_id)))
    usable = set(present)
    for row in rows:
        environment_id = _uuid(row["id"])
        if environment_id in present:
            report.present(ENVIRONMENT)
            continue
        properties = _properties(report, ENVIRONMENT, environment_id, row["custom_properties"])
        if properties is None:
            report.skip(ENVIRONMENT, environment_id, "custom_properties is not a JSON object")
            continue
        name = _fit(report, ENVIRONMENT, environment_id, "name", row["name"], ENVIRONMENT_NAME_LENGTH)
        unique = _unique_name(name, taken, ENVIRONMENT_NAME_LENGTH)
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
                created_at=_when(row["created_at"]),
                updated_at=_when(row["updated_at"]),
            )
        )
        usable.add(environment_id)
        report.imported(ENVIRONMENT)
    await writer.flush()
    return usable


class _Claims:
    """The identifiers held in one pool: a tenant's accounts, or the end users of one environment."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.holders: dict[tuple[str, str], uuid.UUID] = {}

    def clash(self, identifiers: dict[str, str | None]) -> str | None:
        for kind in IDENTIFIERS:
            value = identifiers[kind]
            holder = self.holders.get((kind, value)) if value is not None else None
            if holder is not None:
                return f"duplicate {kind} {value!r} after normalisation: {self.label} {holder} has it"
        return None

    def claim(self, holder: uuid.UUID, identifiers: dict[str, str | None]) -> None:
        for kind in IDENTIFIERS:
            value = identifiers[kind]
            if value is not None:
                self.holders[(kind, value)] = holder


async def _write_tenant_accounts(
    writer: _Writer, report: ImportReport, tenant_id: uuid.UUID, rows: Sequence[Any]
) -> None:
    present = await writer.present(TenantAccount, [_uuid(row["id"]) for row in rows])
    claims = _Claims("tenant account")
    existing = await writer.db.execute(
        select(TenantAccount.id, TenantAccount.email, TenantAccount.phone, TenantAccount.username).where(
            TenantAccount.tenant_id == tenant_id
        )
    )
    for held in existing:
        claims.claim(held.id, {"email": held.email, "phone": held.phone, "username": held.username})
    for row in rows:
        account_id = _uuid(row["id"])
        if account_id in present:
            report.present(TENANT_ACCOUNT)
            continue
        identifiers = _identifiers(row)
        if isinstance(identifiers, str):
            report.skip(TENANT_ACCOUNT, account_id, identifiers)
            continue
        clash = claims.clash(identifiers)
        if clash is not None:
            report.skip(TENANT_ACCOUNT, account_id, clash)
            continue
        claims.claim(account_id, identifiers)
        role, dropped = _role(row["roles"], tenant_id)
        for change in dropped:
            report.adjust(TENANT_ACCOUNT, account_id, change)
        fields = _account_fields(report, TENANT_ACCOUNT, row, identifiers)
        await writer.add(TenantAccount(tenant_id=tenant_id, role=role, **fields))
        report.imported(TENANT_ACCOUNT)


async def _write_end_users(
    writer: _Writer, report: ImportReport, tenant_id: uuid.UUID, environments: set[uuid.UUID], rows: Sequence[Any]
) -> None:
    present = await writer.present(EnvironmentAccount, [_uuid(row["id"]) for row in rows])
    claims: dict[uuid.UUID, _Claims] = {}
    existing = await writer.db.execute(
        select(
            EnvironmentAccount.id,
            EnvironmentAccount.environment_id,
            EnvironmentAccount.email,
            EnvironmentAccount.phone,
            EnvironmentAccount.username,
        ).where(EnvironmentAccount.tenant_id == tenant_id)
    )
    for held in existing:
        pool = claims.setdefault(held.environment_id, _Claims("end user"))
        pool.claim(held.id, {"email": held.email, "phone": held.phone, "username": held.username})
    for row in rows:
        account_id, environment_id = _uuid(row["id"]), _uuid(row["environment_id"])
        if account_id in present:
            report.present(ENVIRONMENT_ACCOUNT)
            continue
        if environment_id not in environments:
            report.skip(ENVIRONMENT_ACCOUNT, account_id, f"its environment {environment_id} was skipped")
            continue
        identifiers = _identifiers(row)
        if isinstance(identifiers, str):
            report.skip(ENVIRONMENT_ACCOUNT, account_id, identifiers)
            continue
        pool = claims.setdefault(environment_id, _Claims("end user"))
        clash = pool.clash(identifiers)
        if clash is not None:
            report.skip(ENVIRONMENT_ACCOUNT, account_id, clash)
            continue
        properties = _properties(report, ENVIRONMENT_ACCOUNT, account_id, row["custom_properties"])
        if properties is None:
            report.skip(ENVIRONMENT_ACCOUNT, account_id, "custom_properties is not a JSON object")
            continue
        pool.claim(account_id, identifiers)
        fields = _account_fields(report, ENVIRONMENT_ACCOUNT, row, identifiers)
        await writer.add(
            EnvironmentAccount(
                tenant_id=tenant_id, environment_id=environment_id, custom_properties=properties, **fields
            )
        )
        report.imported(ENVIRONMENT_ACCOUNT)


def _identifiers(row: Any) -> dict[str, str | None] | str:
    """The account's identifiers as Sump stores them, or why they are not acceptable."""
    raw_email, raw_username, raw_phone = row["email"], row["username"], row["phone"]
    try:
        email = normalize_email(raw_email or "")
    except ValueError as exc:
        return f"invalid email {raw_email!r}: {exc}"
    if len(email) > EMAIL_LENGTH:
        return f"invalid email {raw_email!r}: longer than {EMAIL_LENGTH} characters"
    try:
        username = normalize_username(raw_username or "")
    except ValueError as exc:
        return f"invalid username {raw_username!r}: {exc}"
    if len(username) > USERNAME_LENGTH:
        return f"invalid username {raw_username!r}: longer than {USERNAME_LENGTH} characters"
    phone = None
    if raw_phone is not None and raw_phone.strip():
        try:
            phone = normalize_phone(raw_phone)
        except ValueError as exc:
            return f"invalid phone {raw_phone!r}: {exc}"
    return {"email": email, "phone": phone, "username": username}


def _account_fields(report: ImportReport, table: str, row: Any, identifiers: dict[str, str | None]) -> dict[str, Any]:
    account_id = _uuid(row["id"])
    password_hash = row["password_hash"]
    if password_hash is not None and not password_hash.startswith(BCRYPT_PREFIXES):
        report.adjust(table, account_id, "its password hash is not bcrypt: kept, but it will not match any password")
    avatar_url = row["avatar_url"]
    if avatar_url is not None and len(avatar_url) > AVATAR_URL_LENGTH:
        report.adjust(table, account_id, f"avatar_url dropped: longer than {AVATAR_URL_LENGTH} characters")
        avatar_url = None
    return {
        "id": account_id,
        **identifiers,
        "email_verified": bool(row["email_verified"]),
        "phone_verified": bool(row["phone_verified"]),
        "name": _fit(report, table, account_id, "name", row["name"] or "", PERSON_NAME_LENGTH),
        "avatar_url": avatar_url,
        "password_hash": password_hash,
        "disabled": bool(row["disabled"]),
        "disabled_at": _when(row["disabled_at"]) if row["disabled_at"] is not None else None,
        "created_at": _when(row["created_at"]),
        "updated_at": _when(row["updated_at"]),
    }


def _role(roles: Any, tenant_id: uuid.UUID) -> tuple[TenantRole, list[str]]:
    """The role that `roles` gives on the account's own tenant ("user" when none), and what was dropped.

    The original let an element naming another tenant grant access to it: such elements are dropped here.
    """
    dropped: list[str] = []
    if not isinstance(roles, list):
        return TenantRole.USER, [f"roles {_short(roles)} dropped: not a JSON array"]
    granted: set[TenantRole] = set()
    known = {role.value for role in TenantRole}
    for element in roles:
        if not isinstance(element, dict):
            dropped.append(f"role element {_short(element)} dropped: not a JSON object")
            continue
        role, target, target_id = element.get("role"), element.get("target"), element.get("targetId")
        if target == "tenant" and _same_id(target_id, tenant_id):
            if role in known:
                granted.add(TenantRole(role))
            else:
                dropped.append(f"role element {_short(element)} dropped: unknown role")
        elif target == "tenant":
            dropped.append(
                f"role {role!r} on another tenant ({target_id}) dropped: a role never reaches outside the account's "
                "own tenant (in the original it did, a privilege-escalation bug)"
            )
        else:
            dropped.append(f"role element {_short(element)} dropped: Sump has tenant roles only")
    if not granted:
        return TenantRole.USER, dropped
    best = max(granted, key=lambda role: role.rank)
    if len(granted) > 1:
        names = ", ".join(sorted(role.value for role in granted))
        dropped.append(f"several roles on its own tenant ({names}): kept the highest, {best.value}")
    return best, dropped


def _properties(report: ImportReport, table: str, row_id: uuid.UUID, value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    try:
        check_limits(value)
    except Problem as exc:
        report.adjust(
            table,
            row_id,
            f"custom properties kept although above Sump's limits ({exc.detail}); changes to them through the API "
            "are refused until they are reduced",
        )
    return value


def _fit(report: ImportReport, table: str, row_id: uuid.UUID, column: str, value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    report.adjust(table, row_id, f"{column} shortened to {limit} characters")
    return value[:limit]


def _unique_name(name: str, taken: set[str], limit: int) -> str:
    if name not in taken:
        return name
    number = 2
    while True:
        suffix = f" ({number})"
        candidate = name[: limit - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def _same_id(value: Any, expected: uuid.UUID) -> bool:
    try:
        return uuid.UUID(str(value)) == expected
    except ValueError:
        return False


def _uuid(value: Any) -> uuid.UUID:
    return value if type(value) is uuid.UUID else uuid.UUID(str(value))


def _when(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _reason(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


def _database_reason(exc: BaseException) -> str:
    """The driver's first line, without the SQL text SQLAlchemy appends."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__
