"""Imported accounts sign in with their old bcrypt passwords, within their own tenant or environment only."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher as Argon2Hasher
from fastapi import FastAPI

from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.tenant_accounts import TenantAccount
from sump.importer.original import import_original
from tests.importer.helpers import login, stored
from tests.importer.original_data import (
    BOB_PASSWORD,
    DAN_PASSWORD,
    EVE_PASSWORD,
    NORA_PASSWORD,
    OTHER_PASSWORD,
    OWNER_PASSWORD,
    YAN_PASSWORD,
    ZOE_OTHER_PASSWORD,
    ZOE_PASSWORD,
    Original,
)
from tests.support import Database, bearer


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


async def test_an_imported_argon2_hash_signs_in_and_only_other_hashes_are_reported_unusable(
    original: Original, database: Database, client: httpx.AsyncClient
) -> None:
    """The original stores bcrypt, but a row may hold another hash: an Argon2 one verifies as it is (and is
    not reported), anything else is kept, matches no password, and the report says so."""
    argon2 = Argon2Hasher(time_cost=1, memory_cost=19456, parallelism=2).hash(ZOE_PASSWORD)
    connection = await asyncpg.connect(original.dsn)
    try:
        update = "UPDATE environment_account SET password_hash = $1 WHERE id = $2"
        await connection.execute(update, argon2, original["zoe"])
        await connection.execute(update, "md5$" + "0" * 32, original["zoe_other"])
    finally:
        await connection.close()
    report = await import_original(original.dsn, database.url)

    notes = {note.id: note.reason for note in report.adjusted}
    assert original["zoe"] not in notes
    assert "neither bcrypt (of a cost from 4 to 31) nor Argon2" in notes[original["zoe_other"]]
    zoe = await login(client, "environments", original["acme_prod"], ZOE_PASSWORD, email="zoe@users.example.com")
    assert zoe.status_code == 200, zoe.text
    other = original["acme_prod_again"]
    refused = await login(client, "environments", other, ZOE_OTHER_PASSWORD, email="zoe@users.example.com")
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_credentials")
