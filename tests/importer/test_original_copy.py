"""What the import writes: every table with its rules, and nothing new on a second run."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.db.tables.tenants import Tenant
from sump.importer.original import TableCounts, import_original
from tests.importer.helpers import login, skipped_reasons, stored
from tests.importer.original_data import EXPECTED, OWNER_PASSWORD, SKIPPED, Original
from tests.support import Database, new_tenant


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
    assert (zoe.name, zoe.name_folded) == ("End user Zoe", "end user zoe"), "searched by its name as it is written"
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
    # Pools that now hold bcrypt hashes keep their cost, so every password check there costs as theirs does.
    assert (await stored(app, Tenant, original["acme"])).legacy_hash_cost == 4
    assert (await stored(app, Environment, original["acme_prod"])).legacy_hash_cost == 4
    assert (await stored(app, Environment, original["globex_dev"])).legacy_hash_cost == 4
    assert (await stored(app, Environment, original["acme_prod"])).updated_at == original.created["acme_prod"]


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


async def test_an_avatar_url_sump_would_refuse_is_dropped_and_reported(
    original: Original, database: Database, app: FastAPI
) -> None:
    """The original took any URL its validator parsed (and anyone could create end users), so a row may hold a
    `javascript:` or `data:` avatar: Sump's API takes only http(s) ones, and an application showing the avatar
    would run it. Such a URL is not carried over, and the report says so."""
    connection = await asyncpg.connect(original.dsn)
    try:
        await connection.execute(
            "UPDATE environment_account SET avatar_url = 'javascript:alert(document.cookie)' WHERE id = $1",
            original["zoe"],
        )
        await connection.execute(
            "UPDATE tenant_account SET avatar_url = 'data:text/html,<script>alert(1)</script>' WHERE id = $1",
            original["owner"],
        )
    finally:
        await connection.close()

    report = await import_original(original.dsn, database.url)

    notes = {note.id: note.reason for note in report.adjusted}
    for key, model in (("zoe", EnvironmentAccount), ("owner", TenantAccount)):
        assert "avatar_url dropped: not an http:// or https:// URL" in notes[original[key]]
        assert (await stored(app, model, original[key])).avatar_url is None


async def test_an_environment_id_sump_holds_for_another_tenant_takes_nothing_in(
    original: Original, database: Database, app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Should the id of an original environment name an environment of another tenant in Sump, that environment
    is not the original's: it is skipped, and none of the original's end users is written into it (they would
    have carried the original's tenant id into another tenant's pool)."""
    other = await new_tenant(client)
    async with app.state.sessionmaker() as db, db.begin():
        held = update(Environment).where(Environment.id == uuid.UUID(other.environment_id))
        await db.execute(held.values(id=original["acme_prod"]))

    report = await import_original(original.dsn, database.url)

    reasons = skipped_reasons(report)
    assert reasons[original["acme_prod"]] == "Sump holds this id for an environment of another tenant"
    assert (await stored(app, Environment, original["acme_prod"])).tenant_id == uuid.UUID(other.tenant_id)
    async with app.state.sessionmaker() as db:
        written = await db.scalars(
            select(EnvironmentAccount).where(EnvironmentAccount.environment_id == original["acme_prod"])
        )
        assert list(written) == []
    assert original["zoe"] in reasons
