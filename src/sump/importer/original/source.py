"""The original database: the tables and columns read from it, connecting to it, checking it, and its queries."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from sump.importer.original.errors import SourceError, reason_of

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


def describe(source: str) -> str:
    """host:port/database of a URL, without the user name or password."""
    try:
        parts = urlsplit(source)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{parts.path.lstrip('/') or '(default)'}"
    except ValueError:
        return "the --from URL"


async def connect(source: str) -> Any:
    dsn = source.replace("postgresql+asyncpg://", "postgresql://", 1)
    if not dsn.startswith(("postgresql://", "postgres://")):
        raise SourceError(
            "the original database must be given as a PostgreSQL URL, like postgresql://user@host:5432/sump"
        )
    try:
        connection = await asyncpg.connect(
            dsn, timeout=10, server_settings={"application_name": "sump-import-original"}
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        raise SourceError(f"cannot reach the original database at {describe(dsn)}: {reason_of(exc)}") from exc
    for kind in ("json", "jsonb"):
        await connection.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    return connection


async def check_source(connection: Any, where: str) -> list[str]:
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


def _query(table: str, rest: str, alias: str = "") -> str:
    """SELECT of the columns we read; every name comes from SOURCE_COLUMNS, never from input."""
    columns = ", ".join(f"{alias}.{column}" if alias else column for column in SOURCE_COLUMNS[table])
    return f"SELECT {columns} FROM {rest}"  # noqa: S608


TENANTS = _query(TENANT, "tenant ORDER BY created_at, id")
ENVIRONMENTS = _query(ENVIRONMENT, "environment WHERE tenant_id = $1 ORDER BY created_at, id")
TENANT_ACCOUNTS = _query(TENANT_ACCOUNT, "tenant_account WHERE tenant_id = $1 ORDER BY created_at, id")
END_USERS = _query(
    ENVIRONMENT_ACCOUNT,
    "environment_account a JOIN environment e ON e.id = a.environment_id "
    "WHERE e.tenant_id = $1 ORDER BY a.created_at, a.id",
    alias="a",
)
