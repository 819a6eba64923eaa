"""Registering an environment's clients: the secret shown once and stored hashed, the redirect URI rules,
what each purpose may hold, listing, changes, deletion, and the audit of each."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.audit import AuditEvent
from sump.db.tables.clients import ClientSecret
from sump.kit.crypto import token_digest
from tests.clients.support import application, clients_url, machine, register
from tests.support import TenantWorld


def segments(errors: dict[str, str]) -> set[str]:
    """Every part of the dotted field names of a validation problem (`application.redirectUris.1`)."""
    return {part for key in errors for part in key.split(".")}


async def test_application_is_registered_with_its_secret_once(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    created = await register(client, world, application())
    assert created["clientId"].startswith("sump_")
    assert len(created["clientId"]) == 37
    assert created["kind"] == "confidential"
    assert created["purpose"] == "application"
    assert created["grantTypes"] == ["authorization_code", "refresh_token"]
    assert created["environmentId"] == world.environment_id
    assert created["firstParty"] is True
    secret = created["clientSecret"]
    assert len(secret) == 43
    stored = list(await db.scalars(select(ClientSecret).where(ClientSecret.client_pk == uuid.UUID(created["id"]))))
    assert [row.secret_hash for row in stored] == [token_digest(secret)]
    read = await client.get(f"{clients_url(world)}/{created['id']}", headers=world.owner.auth)
    assert read.status_code == 200
    assert "clientSecret" not in read.json()
    assert secret not in read.text
    listed = await client.get(clients_url(world), headers=world.owner.auth)
    assert secret not in listed.text


async def test_public_client_has_no_secret(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = await register(client, world, application(kind="public"))
    assert created["clientSecret"] is None
    rotate = await client.post(f"{clients_url(world)}/{created['id']}/secrets", json={}, headers=world.owner.auth)
    assert rotate.status_code == 409
    assert rotate.json()["code"] == "public_client"


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example.com/callback",  # http away from loopback
        "https://app.example.com/callback#fragment",
        "https://*.example.com/callback",
        "/callback",
        "https://user@app.example.com/callback",
        "javascript://alert(1)",
        "custom.scheme:/callback",
    ],
)
async def test_redirect_uri_rules(client: httpx.AsyncClient, world: TenantWorld, uri: str) -> None:
    for field in ("redirectUris", "postLogoutRedirectUris"):
        body = application(**{field: ["https://app.example.com/ok", uri]})
        response = await client.post(clients_url(world), json=body, headers=world.owner.auth)
        assert response.status_code == 400, (field, uri)
        assert response.json()["code"] == "validation_failed"
        assert field in segments(response.json()["errors"])


async def test_loopback_redirects_are_allowed(client: httpx.AsyncClient, world: TenantWorld) -> None:
    uris = ["http://127.0.0.1/cb", "http://[::1]/cb", "http://localhost:8080/cb"]
    assert (await register(client, world, application(redirectUris=uris)))["redirectUris"] == uris


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (application(redirectUris=[]), "redirectUris"),
        (application(scopes=["openid", "admin"]), "scopes"),
        (application(audience="https://api.example.com"), "audience"),
        (application(grantTypes=["refresh_token"]), "grantTypes"),
        (application(grantTypes=["client_credentials"]), "grantTypes"),
        (application(scopes=["openid", "openid"]), "scopes"),
        (machine(kind="public"), "kind"),
        (machine(audience=None), "audience"),
        (machine(redirectUris=["https://app.example.com/cb"]), "redirectUris"),
        (application(unknown=True), "unknown"),
    ],
)
async def test_what_each_purpose_holds(
    client: httpx.AsyncClient, world: TenantWorld, body: dict[str, object], field: str
) -> None:
    body = {key: value for key, value in body.items() if value is not None}
    response = await client.post(clients_url(world), json=body, headers=world.owner.auth)
    assert response.status_code == 400, response.text
    assert field in segments(response.json()["errors"])


@pytest.mark.parametrize(
    "audience", ["https://api example.com", "https://api.example.com\u0085", "https://äpi.example.com"]
)
async def test_an_audience_is_printable_ascii_without_spaces(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, audience: str
) -> None:
    """The server and the document's pattern agree on every character (U+0085 is whitespace to the server's
    `\\S` but not to a client's generator reading that pattern: a schema-valid audience answered 400)."""
    response = await client.post(clients_url(world), json=machine(audience=audience), headers=world.owner.auth)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_failed"
    assert "audience" in segments(response.json()["errors"])
    documented = app.openapi()["components"]["schemas"]["MachineCreate"]["properties"]["audience"]["pattern"]
    assert re.fullmatch(documented, audience, re.ASCII) is None
    assert re.fullmatch(documented, "https://api.example.com/v1?x=1", re.ASCII)


async def test_machine_permissions_come_from_the_catalog(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = await register(client, world, machine(permissions=["projects:write", "projects:read"]))
    assert created["permissions"] == ["projects:read", "projects:write"]
    assert created["grantTypes"] == ["client_credentials"]
    assert created["scopes"] == []
    unknown = await client.post(clients_url(world), json=machine(permissions=["nope:x"]), headers=world.owner.auth)
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "unknown_permission"


async def test_update_what_the_purpose_allows(client: httpx.AsyncClient, world: TenantWorld) -> None:
    app = await register(client, world, application())
    url = f"{clients_url(world)}/{app['id']}"
    change = {"redirectUris": ["https://new.example.com/cb"], "firstParty": False, "grantTypes": ["authorization_code"]}
    assert (await client.patch(url, json=change, headers=world.owner.auth)).status_code == 204
    read = (await client.get(url, headers=world.owner.auth)).json()
    assert read["redirectUris"] == ["https://new.example.com/cb"]
    assert read["firstParty"] is False
    assert read["grantTypes"] == ["authorization_code"]
    wrong = await client.patch(url, json={"audience": "https://api.example.com"}, headers=world.owner.auth)
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "client_field_not_applicable"
    assert "audience" in wrong.json()["errors"]
    emptied = await client.patch(url, json={"redirectUris": []}, headers=world.owner.auth)
    assert emptied.status_code == 400
    machine_client = await register(client, world, machine())
    url = f"{clients_url(world)}/{machine_client['id']}"
    renamed = await client.patch(url, json={"redirectUris": ["https://a.example.com/cb"]}, headers=world.owner.auth)
    assert renamed.status_code == 400
    assert renamed.json()["code"] == "client_field_not_applicable"
    assert "redirectUris" in renamed.json()["errors"]
    unknown = await client.patch(url, json={"permissions": ["nope:x"]}, headers=world.owner.auth)
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "unknown_permission"


async def test_list_pages_and_delete(client: httpx.AsyncClient, world: TenantWorld) -> None:
    ids = [(await register(client, world, application()))["id"] for _ in range(3)]
    first = await client.get(clients_url(world), params={"limit": 2}, headers=world.owner.auth)
    assert [item["id"] for item in first.json()] == ids[:2]
    next_url = first.headers["Link"].split(">")[0].lstrip("<")
    second = await client.get(next_url, headers=world.owner.auth)
    assert [item["id"] for item in second.json()] == ids[2:]
    assert (await client.delete(f"{clients_url(world)}/{ids[0]}", headers=world.owner.auth)).status_code == 204
    gone = await client.get(f"{clients_url(world)}/{ids[0]}", headers=world.owner.auth)
    assert gone.status_code == 404
    assert gone.json()["code"] == "client_not_found"


async def test_roles(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin, user = await world.add_member("admin"), await world.add_member("user")
    created = await register(client, world, application(), by=admin)
    refused = await client.post(clients_url(world), json=application(), headers=user.auth)
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_role"
    assert (await client.get(f"{clients_url(world)}/{created['id']}", headers=user.auth)).status_code == 200
    url = f"{clients_url(world)}/{created['id']}"
    assert (await client.delete(url, headers=user.auth)).status_code == 403


async def test_other_environments_and_tenants_see_nothing(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    created = await register(client, world, application())
    second = await world.add_environment()
    elsewhere = await client.get(f"{clients_url(world, second)}/{created['id']}", headers=world.owner.auth)
    assert elsewhere.status_code == 404
    assert elsewhere.json()["code"] == "client_not_found"
    assert (await client.get(clients_url(world, second), headers=world.owner.auth)).json() == []
    through_other = f"{other.base}/environments/{other.environment_id}/clients/{created['id']}"
    assert (await client.get(through_other, headers=other.owner.auth)).status_code == 404
    assert (await client.delete(through_other, headers=other.owner.auth)).status_code == 404
    foreign_env = f"{other.base}/environments/{world.environment_id}/clients"
    assert (await client.get(foreign_env, headers=other.owner.auth)).status_code == 404
    automation_path = await client.get(f"{world.base}/clients/{created['id']}", headers=world.owner.auth)
    assert automation_path.status_code == 404


async def test_changes_are_audited(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    created = await register(client, world, application())
    url = f"{clients_url(world)}/{created['id']}"
    await client.patch(url, json={"name": "renamed"}, headers=world.owner.auth)
    rotated = await client.post(f"{url}/secrets", json={"overlapSeconds": 60}, headers=world.owner.auth)
    assert rotated.status_code == 201
    await client.delete(url, headers=world.owner.auth)
    events = list(
        await db.scalars(
            select(AuditEvent).where(AuditEvent.target_id == uuid.UUID(created["id"])).order_by(AuditEvent.id)
        )
    )
    assert [event.action for event in events] == [
        "client.created",
        "client.updated",
        "client.secret_rotated",
        "client.deleted",
    ]
    assert {event.actor_id for event in events} == {uuid.UUID(world.owner.account_id)}
    assert all(event.details["clientId"] == created["clientId"] for event in events)
    assert created["clientSecret"] not in str([event.details for event in events])
    assert rotated.json()["clientSecret"] not in str([event.details for event in events])
