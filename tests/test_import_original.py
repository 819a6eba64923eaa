"""`sump import original`: a real database of the original Sump (its schema, spec §A.2) copied into Sump.

The original database is always PostgreSQL, built here with the original's DDL and filled with two tenants whose
rows cover every rule of the import; Sump's database is the `database` fixture, on both backends.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import bcrypt
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from sump.environment_accounts.models import EnvironmentAccount
from sump.environments.models import Environment
from sump.importer.original import ImportReport, SourceError, TableCounts, TargetError, import_original
from sump.tenant_accounts.models import TenantAccount, TenantRole
from sump.tenants.models import Tenant
from tests.support import ADMIN_URL, SECRET, Database, bearer

ROOT = Path(__file__).resolve().parents[1]
SUMP = ROOT / ".venv" / "bin" / "sump"
SERVER_DSN = ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)[0]

OWNER_PASSWORD = "owner's old bcrypt password"
EVE_PASSWORD = "eve wants every tenant"
NORA_PASSWORD = "nora has no roles at all"
DAN_PASSWORD = "dan is disabled for good"
BOB_PASSWORD = "bob owns the other tenant"
ZOE_PASSWORD = "zoe in production"
ZOE_OTHER_PASSWORD = "zoe in the second production"
YAN_PASSWORD = "yan is a disabled end user"
OTHER_PASSWORD = "some other password 123"

# The original's one knex migration, `0001-big-bang`, as spec §A.2 describes it.
ORIGINAL_DDL = """
CREATE TABLE migrations (id serial PRIMARY KEY, name varchar(255), batch integer, migration_time timestamptz);
INSERT INTO migrations (name, batch, migration_time) VALUES ('0001-big-bang.js', 1, now());

CREATE FUNCTION on_update_timestamp() RETURNS trigger AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TABLE tenant (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name varchar(255) NOT NULL,
  custom_properties jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT tenant_id_unique UNIQUE (id)
);
CREATE INDEX tenant_idx ON tenant (id);

CREATE TABLE tenant_account (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email varchar(255) NOT NULL CONSTRAINT tenant_account_email_unique UNIQUE,
  email_verified boolean NOT NULL DEFAULT false,
  phone varchar(255) CONSTRAINT tenant_account_phone_unique UNIQUE,
  phone_verified boolean NOT NULL DEFAULT false,
  username varchar(255) NOT NULL CONSTRAINT tenant_account_username_unique UNIQUE,
  name varchar(255) NOT NULL,
  avatar_url varchar(255),
  password_hash varchar(255),
  roles jsonb NOT NULL DEFAULT '[]',
  tenant_id uuid REFERENCES tenant (id) ON DELETE CASCADE,
  disabled boolean NOT NULL DEFAULT false,
  disabled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT tenant_account_id_unique UNIQUE (id)
);
CREATE INDEX tenant_account_idx ON tenant_account (id);

CREATE TABLE environment (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name varchar(255) NOT NULL,
  custom_properties jsonb NOT NULL,
  tenant_id uuid REFERENCES tenant (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT environment_id_unique UNIQUE (id)
);
CREATE INDEX environment_idx ON environment (id);

CREATE TABLE environment_account (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email varchar(255) NOT NULL CONSTRAINT environment_account_email_unique UNIQUE,
  email_verified boolean NOT NULL DEFAULT false,
  phone varchar(255) CONSTRAINT environment_account_phone_unique UNIQUE,
  phone_verified boolean NOT NULL DEFAULT false,
  username varchar(255) NOT NULL CONSTRAINT environment_account_username_unique UNIQUE,
  name varchar(255) NOT NULL,
  avatar_url varchar(255),
  password_hash varchar(255),
  custom_properties jsonb NOT NULL,
  environment_id uuid REFERENCES environment (id) ON DELETE CASCADE,
  disabled boolean NOT NULL DEFAULT false,
  disabled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT environment_account_id_unique UNIQUE (id)
);
CREATE INDEX environment_account_idx ON environment_account (id);

CREATE TABLE session (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token varchar(64) NOT NULL CONSTRAINT session_token_unique UNIQUE,
  account_type text CHECK (account_type IN ('tenant_account', 'environment_account')),
  account_id uuid NOT NULL,
  context_type text CHECK (context_type IN ('tenant', 'environment')),
  context_id uuid NOT NULL,
  expires_at timestamptz NOT NULL,
  ip_address varchar(45),
  user_agent text,
  last_active_at timestamptz DEFAULT CURRENT_TIMESTAMP,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT session_id_unique UNIQUE (id)
);
CREATE INDEX session_idx ON session (id);
CREATE INDEX session_token_idx ON session (token);
CREATE INDEX idx_session_account ON session (account_type, account_id);
CREATE INDEX idx_session_expires ON session (expires_at);

CREATE TABLE password_reset_token (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token varchar(64) NOT NULL CONSTRAINT password_reset_token_token_unique UNIQUE,
  account_type text CHECK (account_type IN ('tenant_account', 'environment_account')),
  account_id uuid NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT password_reset_token_id_unique UNIQUE (id)
);
CREATE INDEX password_reset_token_idx ON password_reset_token (id);
CREATE INDEX password_reset_token_token_idx ON password_reset_token (token);
CREATE INDEX idx_password_reset_account ON password_reset_token (account_type, account_id);

CREATE TRIGGER tenant_updated_at BEFORE UPDATE ON tenant
  FOR EACH ROW EXECUTE PROCEDURE on_update_timestamp();
CREATE TRIGGER tenant_account_updated_at BEFORE UPDATE ON tenant_account
  FOR EACH ROW EXECUTE PROCEDURE on_update_timestamp();
CREATE TRIGGER environment_updated_at BEFORE UPDATE ON environment
  FOR EACH ROW EXECUTE PROCEDURE on_update_timestamp();
CREATE TRIGGER environment_account_updated_at BEFORE UPDATE ON environment_account
  FOR EACH ROW EXECUTE PROCEDURE on_update_timestamp();
"""


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(f"{SERVER_DSN}/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def bcrypt_hash(password: str, prefix: str = "$2b$") -> str:
    """A hash as the original made it (cost 4 here, for speed); `$2a$` and `$2y$` are the same algorithm."""
    return prefix + bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()[4:]


@dataclass
class Original:
    """An original Sump database and the ids of the rows put in it, by name."""

    dsn: str
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)

    def __getitem__(self, key: str) -> uuid.UUID:
        return self.ids[key]


class Seeder:
    """Inserts rows the way the original did; each row is a minute younger than the one before."""

    def __init__(self, connection: Any, original: Original) -> None:
        self.connection = connection
        self.original = original
        self.clock = datetime(2023, 5, 1, 9, 0, tzinfo=UTC)

    def _new(self, key: str) -> tuple[uuid.UUID, datetime]:
        self.clock += timedelta(minutes=1)
        row_id = uuid.uuid4()
        self.original.ids[key] = row_id
        self.original.created[key] = self.clock
        return row_id, self.clock

    def _id(self, key: str | None) -> uuid.UUID | None:
        return None if key is None else self.original.ids[key]

    async def tenant(self, key: str, name: str, properties: dict[str, Any]) -> None:
        row_id, at = self._new(key)
        await self.connection.execute(
            "INSERT INTO tenant (id, name, custom_properties, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
            row_id,
            name,
            json.dumps(properties),
            at,
            at + timedelta(seconds=30),
        )

    async def environment(self, key: str, tenant: str | None, name: str, properties: dict[str, Any]) -> None:
        row_id, at = self._new(key)
        await self.connection.execute(
            "INSERT INTO environment (id, tenant_id, name, custom_properties, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $5)",
            row_id,
            self._id(tenant),
            name,
            json.dumps(properties),
            at,
        )

    async def tenant_account(
        self,
        key: str,
        tenant: str | None,
        email: str,
        username: str,
        *,
        password: str | None = OTHER_PASSWORD,
        roles: Sequence[tuple[str, str]] = (),
        phone: str | None = None,
        disabled: bool = False,
    ) -> None:
        row_id, at = self._new(key)
        password_hash = bcrypt_hash(password) if password is not None else None
        if password_hash is not None:
            self.original.hashes[key] = password_hash
        elements = [{"role": role, "target": "tenant", "targetId": str(self._id(on))} for role, on in roles]
        await self.connection.execute(
            "INSERT INTO tenant_account (id, tenant_id, email, email_verified, phone, phone_verified, username, name, "
            "avatar_url, password_hash, roles, disabled, disabled_at, created_at, updated_at) "
            "VALUES ($1, $2, $3, true, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
            row_id,
            self._id(tenant),
            email,
            phone,
            phone is not None,
            username,
            f"Person {username}",
            f"https://img.example.com/{username}.png",
            password_hash,
            json.dumps(elements),
            disabled,
            at if disabled else None,
            at,
        )

    async def end_user(
        self,
        key: str,
        environment: str | None,
        email: str,
        username: str,
        *,
        password: str = OTHER_PASSWORD,
        hash_prefix: str = "$2b$",
        phone: str | None = None,
        disabled: bool = False,
        properties: dict[str, Any] | None = None,
    ) -> None:
        row_id, at = self._new(key)
        password_hash = bcrypt_hash(password, hash_prefix)
        self.original.hashes[key] = password_hash
        await self.connection.execute(
            "INSERT INTO environment_account (id, environment_id, email, phone, username, name, password_hash, "
            "custom_properties, disabled, disabled_at, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            row_id,
            self._id(environment),
            email,
            phone,
            username,
            f"End user {username}",
            password_hash,
            json.dumps(properties or {}),
            disabled,
            at if disabled else None,
            at,
        )

    async def left_behind(self) -> None:
        """Sessions and a reset token, stored in plain text by the original: never imported."""
        ids = self.original.ids
        tomorrow = self.clock + timedelta(days=1)
        for account, context, kind in (("owner", "acme", "tenant"), ("zoe", "acme_prod", "environment")):
            await self.connection.execute(
                "INSERT INTO session (token, account_type, account_id, context_type, context_id, expires_at) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                uuid.uuid4().hex * 2,
                f"{kind}_account",
                ids[account],
                kind,
                ids[context],
                tomorrow,
            )
        await self.connection.execute(
            "INSERT INTO password_reset_token (token, account_type, account_id, expires_at) VALUES ($1, $2, $3, $4)",
            uuid.uuid4().hex * 2,
            "tenant_account",
            ids["nora"],
            tomorrow,
        )


async def seed(seeder: Seeder) -> None:
    await seeder.tenant("acme", "Acme", {"plan": "pro", "feature_flags": {"beta": True}})
    await seeder.tenant("globex", "Globex", {})
    await seeder.environment("acme_prod", "acme", "Production", {"region": "eu-west"})
    await seeder.environment("acme_prod_again", "acme", "Production", {"region": "us-east"})
    await seeder.environment("acme_staging", "acme", "Staging", {})
    await seeder.environment("globex_dev", "globex", "Development", {"debug": True})
    await seeder.environment("lost", None, "Lost", {})

    account = seeder.tenant_account
    await account(
        "owner",
        "acme",
        "Olivia@Acme.example.com",
        "Olivia.Owner",
        password=OWNER_PASSWORD,
        roles=[("owner", "acme")],
        phone="+1 (415) 555-0100",
    )
    await account("admin", "acme", "adam@acme.example.com", "adam", roles=[("admin", "acme")])
    # The original's bug: an element naming another tenant let this account act there.
    await account(
        "eve",
        "acme",
        "eve@acme.example.com",
        "eve",
        password=EVE_PASSWORD,
        roles=[("user", "acme"), ("owner", "globex")],
    )
    await account("nora", "acme", "nora@acme.example.com", "nora", password=NORA_PASSWORD)
    await account("pat", "acme", "pat@acme.example.com", "pat", password=None, roles=[("user", "acme")])
    await account("ann", "acme", "Ann@X.com", "ann", roles=[("user", "acme")])
    await account("ann_again", "acme", "ann@x.com", "ann.again", roles=[("user", "acme")])
    await account("bad_email", "acme", "not-an-email", "bad.email", roles=[("user", "acme")])
    await account("dan", "acme", "dan@acme.example.com", "dan", password=DAN_PASSWORD, disabled=True)
    await account("sam_acme", "acme", "Sam@Shared.example.com", "Sam", roles=[("admin", "acme")])
    await account("bob", "globex", "bob@globex.example.com", "bob", password=BOB_PASSWORD, roles=[("owner", "globex")])
    await account("sam_globex", "globex", "sam@shared.example.com", "sam", roles=[("user", "globex")])
    await account("orphan_account", None, "orphan@acme.example.com", "orphan")

    user = seeder.end_user
    await user(
        "zoe",
        "acme_prod",
        "Zoe@Users.example.com",
        "Zoe",
        password=ZOE_PASSWORD,
        hash_prefix="$2a$",
        properties={"tier": "gold", "feature_flags": {"beta": True}},
    )
    await user("zoe_again", "acme_prod", "ZOE@USERS.EXAMPLE.COM", "zoe.again")
    await user(
        "zoe_other",
        "acme_prod_again",
        "zoe@users.example.com",
        "zoe",
        password=ZOE_OTHER_PASSWORD,
        phone="+44 20 7946 0958",
    )
    await user("bad_phone", "acme_staging", "short.phone@users.example.com", "short.phone", phone="12")
    await user("yan", "globex_dev", "yan@users.example.com", "yan", password=YAN_PASSWORD, disabled=True)
    await user("orphan_user", None, "orphan@users.example.com", "orphan")
    await user("lost_user", "lost", "lost@users.example.com", "lost")
    await seeder.left_behind()


EXPECTED = {
    "tenant": TableCounts(imported=2, already_present=0, skipped=0),
    "environment": TableCounts(imported=4, already_present=0, skipped=1),
    "tenant_account": TableCounts(imported=10, already_present=0, skipped=3),
    "environment_account": TableCounts(imported=3, already_present=0, skipped=4),
}
SKIPPED = {
    "lost": "orphan: it belongs to no tenant",
    "orphan_account": "orphan: it belongs to no tenant",
    "ann_again": "duplicate email 'ann@x.com' after normalisation",
    "bad_email": "invalid email 'not-an-email'",
    "zoe_again": "duplicate email 'zoe@users.example.com' after normalisation",
    "bad_phone": "invalid phone '12'",
    "orphan_user": "orphan: it belongs to no environment",
    "lost_user": "orphan: its environment",
}


async def _empty_database() -> str:
    name = f"sump_original_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    return name


@pytest.fixture
async def original() -> AsyncIterator[Original]:
    """A fresh original Sump database (new ids every time), dropped after the test."""
    name = await _empty_database()
    try:
        built = Original(f"{SERVER_DSN}/{name}")
        connection = await asyncpg.connect(built.dsn)
        try:
            await connection.execute(ORIGINAL_DDL)
            await seed(Seeder(connection, built))
        finally:
            await connection.close()
        yield built
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run_cli(database_url: str, *args: str) -> tuple[int, str, str]:
    environment = {
        **os.environ,
        "SUMP_DATABASE_URL": database_url,
        "SUMP_ENV": "test",
        "SUMP_SECRET_KEY": SECRET,
    }
    process = await asyncio.create_subprocess_exec(
        str(SUMP),
        *args,
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def table_row(output: str, table: str) -> list[str]:
    """The counts of one table in the printed report: [imported, already present, skipped]."""
    for line in output.splitlines():
        words = line.split()
        if words and words[0] == table:
            return words[1:]
    raise AssertionError(f"no {table} line in:\n{output}")


async def stored(app: FastAPI, model: Any, row_id: uuid.UUID) -> Any:
    async with app.state.sessionmaker() as db:
        return await db.scalar(select(model).where(model.id == row_id))


async def login(
    client: httpx.AsyncClient, family: str, context: uuid.UUID, password: str, **identifier: str
) -> httpx.Response:
    return await client.post(f"/api/v1/auth/{family}/{context}/login", json={**identifier, "password": password})


def skipped_reasons(report: ImportReport) -> dict[uuid.UUID, str]:
    return {note.id: note.reason for note in report.skipped}


async def test_import_copies_every_table_with_its_rules(original: Original, database: Database, app: FastAPI) -> None:
    report = await import_original(original.dsn, database.url)

    assert report.counts == EXPECTED
    assert report.complete
    reasons = skipped_reasons(report)
    assert set(reasons) == {original[key] for key in SKIPPED}
    for key, reason in SKIPPED.items():
        assert reason in reasons[original[key]], (key, reasons[original[key]])
    adjusted = {note.id: note.reason for note in report.adjusted}
    assert set(adjusted) == {original["acme_prod_again"], original["eve"]}
    assert "renamed 'Production' to 'Production (2)'" in adjusted[original["acme_prod_again"]]
    assert f"role 'owner' on another tenant ({original['globex']}) dropped" in adjusted[original["eve"]]
    assert report.left_behind == {"session": 2, "password_reset_token": 1}
    printed = report.render()
    assert "sessions and password reset tokens (2 sessions and 1 password reset token in the original)" in printed
    assert "ann@x.com" in printed

    acme = await stored(app, Tenant, original["acme"])
    assert (acme.name, acme.custom_properties) == ("Acme", {"plan": "pro", "feature_flags": {"beta": True}})
    assert acme.created_at == original.created["acme"]
    assert acme.updated_at == original.created["acme"] + timedelta(seconds=30)

    async with app.state.sessionmaker() as db:
        environments = {
            row.id: row
            for row in await db.scalars(select(Environment).where(Environment.tenant_id == original["acme"]))
        }
        accounts = {
            row.id: row
            for row in await db.scalars(select(TenantAccount).where(TenantAccount.tenant_id == original["acme"]))
        }
    assert {environment.name for environment in environments.values()} == {"Production", "Production (2)", "Staging"}
    assert environments[original["acme_prod"]].name == "Production"
    assert environments[original["acme_prod"]].custom_properties == {"region": "eu-west"}
    assert environments[original["acme_prod_again"]].custom_properties == {"region": "us-east"}
    dev = await stored(app, Environment, original["globex_dev"])
    assert (dev.tenant_id, dev.name, dev.custom_properties) == (original["globex"], "Development", {"debug": True})

    roles = {key: accounts[original[key]].role for key in ("owner", "admin", "eve", "nora", "pat", "sam_acme")}
    assert roles == {
        "owner": TenantRole.OWNER,
        "admin": TenantRole.ADMIN,
        "eve": TenantRole.USER,
        "nora": TenantRole.USER,
        "pat": TenantRole.USER,
        "sam_acme": TenantRole.ADMIN,
    }
    owner = accounts[original["owner"]]
    assert (owner.email, owner.username, owner.phone) == ("olivia@acme.example.com", "olivia.owner", "+14155550100")
    assert (owner.email_verified, owner.phone_verified, owner.name) == (True, True, "Person Olivia.Owner")
    assert owner.avatar_url == "https://img.example.com/Olivia.Owner.png"
    assert owner.password_hash == original.hashes["owner"]
    assert owner.created_at == original.created["owner"]
    assert accounts[original["pat"]].password_hash is None
    assert accounts[original["ann"]].email == "ann@x.com"
    dan = accounts[original["dan"]]
    assert (dan.disabled, dan.disabled_at) == (True, original.created["dan"])
    assert original["ann_again"] not in accounts
    sam_acme, sam_globex = accounts[original["sam_acme"]], await stored(app, TenantAccount, original["sam_globex"])
    assert sam_acme.email == sam_globex.email == "sam@shared.example.com"
    assert (sam_globex.tenant_id, sam_globex.role) == (original["globex"], TenantRole.USER)
    assert await stored(app, TenantAccount, original["orphan_account"]) is None

    zoe = await stored(app, EnvironmentAccount, original["zoe"])
    assert (zoe.tenant_id, zoe.environment_id) == (original["acme"], original["acme_prod"])
    assert (zoe.email, zoe.username) == ("zoe@users.example.com", "zoe")
    assert zoe.custom_properties == {"tier": "gold", "feature_flags": {"beta": True}}
    assert zoe.password_hash == original.hashes["zoe"]
    assert zoe.password_hash.startswith("$2a$")
    zoe_other = await stored(app, EnvironmentAccount, original["zoe_other"])
    assert (zoe_other.environment_id, zoe_other.email) == (original["acme_prod_again"], "zoe@users.example.com")
    assert zoe_other.phone == "+442079460958"
    yan = await stored(app, EnvironmentAccount, original["yan"])
    assert (yan.tenant_id, yan.disabled) == (original["globex"], True)
    for key in ("zoe_again", "bad_phone", "orphan_user", "lost_user"):
        assert await stored(app, EnvironmentAccount, original[key]) is None


@pytest.mark.asvs("PWD-10")
async def test_imported_owner_signs_in_with_the_old_password_and_the_hash_becomes_argon2id(
    original: Original, database: Database, app: FastAPI, client: httpx.AsyncClient
) -> None:
    await import_original(original.dsn, database.url)
    tenant = original["acme"]

    wrong = await login(client, "tenants", tenant, "not the password", email="olivia@acme.example.com")
    assert wrong.status_code == 401
    assert (await stored(app, TenantAccount, original["owner"])).password_hash == original.hashes["owner"]

    response = await login(client, "tenants", tenant, OWNER_PASSWORD, email="Olivia@Acme.example.com")
    assert response.status_code == 200, response.text
    assert response.json()["accountId"] == str(original["owner"])
    rehashed = (await stored(app, TenantAccount, original["owner"])).password_hash
    assert rehashed.startswith("$argon2id$")

    again = await login(client, "tenants", tenant, OWNER_PASSWORD, username="olivia.owner")
    assert again.status_code == 200, again.text
    owner = bearer(again.json()["token"])
    view = await client.get(f"/api/v1/tenants/{tenant}", headers=owner)
    assert view.status_code == 200
    assert view.json()["customProperties"] == {"plan": "pro", "feature_flags": {"beta": True}}
    assert {environment["name"] for environment in view.json()["environments"]} == {
        "Production",
        "Production (2)",
        "Staging",
    }
    renamed = await client.patch(f"/api/v1/tenants/{tenant}", json={"name": "Acme Corp"}, headers=owner)
    assert renamed.status_code == 204


async def test_a_role_naming_another_tenant_grants_nothing_there(
    original: Original, database: Database, client: httpx.AsyncClient
) -> None:
    await import_original(original.dsn, database.url)
    acme, globex = original["acme"], original["globex"]

    signed_in = await login(client, "tenants", acme, EVE_PASSWORD, email="eve@acme.example.com")
    assert signed_in.status_code == 200, signed_in.text
    eve = bearer(signed_in.json()["token"])
    assert (await client.get(f"/api/v1/tenants/{globex}", headers=eve)).status_code == 404
    assert (await client.patch(f"/api/v1/tenants/{globex}", json={"name": "Owned"}, headers=eve)).status_code == 404
    assert (await client.get(f"/api/v1/tenants/{acme}", headers=eve)).status_code == 200
    assert (await client.patch(f"/api/v1/tenants/{acme}", json={"name": "Owned"}, headers=eve)).status_code == 403
    elsewhere = await login(client, "tenants", globex, EVE_PASSWORD, email="eve@acme.example.com")
    assert elsewhere.status_code == 401

    bob = await login(client, "tenants", globex, BOB_PASSWORD, username="bob")
    assert bob.status_code == 200, bob.text
    view = await client.get(f"/api/v1/tenants/{globex}", headers=bearer(bob.json()["token"]))
    assert view.status_code == 200
    assert view.json()["name"] == "Globex"


async def test_accounts_without_a_password_or_disabled_cannot_sign_in(
    original: Original, database: Database, client: httpx.AsyncClient
) -> None:
    await import_original(original.dsn, database.url)
    acme = original["acme"]

    for password in (OTHER_PASSWORD, "null", " "):
        response = await login(client, "tenants", acme, password, email="pat@acme.example.com")
        assert response.status_code == 401
    disabled = await login(client, "tenants", acme, DAN_PASSWORD, email="dan@acme.example.com")
    assert disabled.status_code == 401
    nora = await login(client, "tenants", acme, NORA_PASSWORD, email="nora@acme.example.com")
    assert nora.status_code == 200, nora.text


@pytest.mark.asvs("PWD-10")
async def test_end_users_sign_in_to_their_own_environment(
    original: Original, database: Database, app: FastAPI, client: httpx.AsyncClient
) -> None:
    await import_original(original.dsn, database.url)
    production, second = original["acme_prod"], original["acme_prod_again"]

    zoe = await login(client, "environments", production, ZOE_PASSWORD, email="ZOE@users.example.com")
    assert zoe.status_code == 200, zoe.text
    assert zoe.json()["accountId"] == str(original["zoe"])
    assert (await stored(app, EnvironmentAccount, original["zoe"])).password_hash.startswith("$argon2id$")

    other = await login(client, "environments", second, ZOE_OTHER_PASSWORD, email="zoe@users.example.com")
    assert other.status_code == 200, other.text
    assert other.json()["accountId"] == str(original["zoe_other"])
    by_phone = await login(client, "environments", second, ZOE_OTHER_PASSWORD, phone="+44 20 7946 0958")
    assert by_phone.status_code == 200, by_phone.text

    crossed = await login(client, "environments", second, ZOE_PASSWORD, email="zoe@users.example.com")
    assert crossed.status_code == 401
    as_tenant = await login(client, "tenants", original["acme"], ZOE_PASSWORD, email="zoe@users.example.com")
    assert as_tenant.status_code == 401
    disabled = await login(client, "environments", original["globex_dev"], YAN_PASSWORD, username="yan")
    assert disabled.status_code == 401


async def test_a_second_run_imports_nothing_new(
    original: Original, database: Database, app: FastAPI, client: httpx.AsyncClient
) -> None:
    first = await import_original(original.dsn, database.url)
    signed_in = await login(client, "tenants", original["acme"], OWNER_PASSWORD, email="olivia@acme.example.com")
    assert signed_in.status_code == 200, signed_in.text
    rehashed = (await stored(app, TenantAccount, original["owner"])).password_hash

    second = await import_original(original.dsn, database.url)

    for table, counts in first.counts.items():
        assert second.counts[table] == TableCounts(
            imported=0, already_present=counts.imported, skipped=counts.skipped
        ), table
    assert skipped_reasons(second) == skipped_reasons(first)
    assert second.adjusted == []
    assert second.complete
    assert (await stored(app, TenantAccount, original["owner"])).password_hash == rehashed
    environment = await stored(app, Environment, original["acme_prod_again"])
    assert environment.name == "Production (2)"


async def test_the_command_imports_and_is_safe_to_run_twice(
    original: Original, database: Database, client: httpx.AsyncClient
) -> None:
    code, out, err = await run_cli(database.url, "import", "original", "--from", original.dsn)
    assert code == 0, err
    assert table_row(out, "tenant") == ["2", "0", "0"]
    assert table_row(out, "environment") == ["4", "0", "1"]
    assert table_row(out, "tenant_account") == ["10", "0", "3"]
    assert table_row(out, "environment_account") == ["3", "0", "4"]
    assert f"tenant_account {original['ann_again']}: duplicate email 'ann@x.com'" in out
    assert "Not imported, by design: sessions and password reset tokens" in out
    assert "Safe to run again" in out

    response = await login(client, "tenants", original["acme"], OWNER_PASSWORD, email="olivia@acme.example.com")
    assert response.status_code == 200, response.text

    code, out, err = await run_cli(database.url, "import", "original", "--from", original.dsn)
    assert code == 0, err
    assert table_row(out, "tenant") == ["0", "2", "0"]
    assert table_row(out, "environment") == ["0", "4", "1"]
    assert table_row(out, "tenant_account") == ["0", "10", "3"]
    assert table_row(out, "environment_account") == ["0", "3", "4"]


async def test_a_source_that_is_not_an_original_sump_is_refused(tmp_path: Path) -> None:
    """Nothing is written, so Sump's database does not matter here: the source is refused first."""
    target = f"sqlite+aiosqlite:///{tmp_path / 'sump.db'}"
    unreachable = "postgresql://postgres@127.0.0.1:1/sump"
    with pytest.raises(SourceError, match=r"cannot reach the original database at 127\.0\.0\.1:1/sump"):
        await import_original(unreachable, target)
    with pytest.raises(SourceError, match="must be given as a PostgreSQL URL"):
        await import_original("mysql://root@127.0.0.1/sump", target)

    name = await _empty_database()
    try:
        empty = f"{SERVER_DSN}/{name}"
        with pytest.raises(SourceError, match="does not look like an original Sump database: table tenant, "):
            await import_original(empty, target)
        await _admin_in(empty, "CREATE TABLE tenant (id uuid PRIMARY KEY, name text)")
        with pytest.raises(SourceError, match=r"table environment, tenant_account, environment_account missing"):
            await import_original(empty, target)
        for table in ("environment", "tenant_account", "environment_account"):
            await _admin_in(empty, f"CREATE TABLE {table} (id uuid PRIMARY KEY, name text)")
        with pytest.raises(SourceError, match=r"column tenant\.custom_properties, tenant\.created_at, "):
            await import_original(empty, target)

        code, out, err = await run_cli(target, "import", "original", "--from", empty)
        assert code == 1
        assert out == ""
        assert "does not look like an original Sump database" in err
        code, _, err = await run_cli(target, "import", "original", "--from", unreachable)
        assert code == 1
        assert "cannot reach the original database at 127.0.0.1:1/sump" in err
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_an_unmigrated_sump_database_is_refused(original: Original, database: Database, tmp_path: Path) -> None:
    if database.backend == "sqlite":
        with pytest.raises(TargetError, match="sump db upgrade"):
            await import_original(original.dsn, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        return
    name = await _empty_database()
    try:
        with pytest.raises(TargetError, match="sump db upgrade"):
            await import_original(original.dsn, ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin_in(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
