"""A tenant's automation clients on Sump's admin API: the token endpoint (form or JSON, client_secret_basic or
client_secret_post), permissions enforced by the same policies as people, 404 for other tenants, 403 on routes
that need a human, the audit log naming the client, and tokens that end when the client or its secret does."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.automation import ROUTES
from sump.clients import grants
from sump.clients.schemas import AUTOMATION_PERMISSIONS
from sump.db.base import utcnow
from sump.db.tables.audit import AuditEvent
from sump.db.tables.clients import ClientToken
from sump.kit.crypto import token_digest
from tests.clients.support import automation
from tests.matrix.scene import person
from tests.support import TenantWorld, bearer


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def token_for(http: httpx.AsyncClient, world: TenantWorld, robot: dict[str, Any], **form: str) -> str:
    response = await http.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/token",
        data={"grant_type": "client_credentials", **form},
        headers=_basic(robot["clientId"], robot["clientSecret"]),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] <= 900
    assert response.headers["cache-control"] == "no-store"
    token: str = body["access_token"]
    return token


async def test_token_by_form_or_json(client: httpx.AsyncClient, world: TenantWorld) -> None:
    robot = await automation(client, world, ["environments:read"])
    await token_for(client, world, robot)
    url = f"/api/v1/auth/tenants/{world.tenant_id}/token"
    posted = await client.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": robot["clientId"],
            "client_secret": robot["clientSecret"],
        },
    )
    assert posted.status_code == 200
    body = {"grantType": "client_credentials", "clientId": robot["clientId"], "clientSecret": robot["clientSecret"]}
    as_json = await client.post(url, json=body)
    assert as_json.status_code == 200
    assert as_json.json()["scope"] == "environments:read"
    environments = await client.get(f"{world.base}/environments", headers=bearer(as_json.json()["access_token"]))
    assert environments.status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "client_credentials", "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "audit:read"}, 400, "invalid_scope"),
    ],
)
async def test_refusals(
    client: httpx.AsyncClient, world: TenantWorld, form: dict[str, str], status: int, error: str
) -> None:
    robot = await automation(client, world, ["environments:read"])
    form = dict(form)
    secret = form.pop("client_secret", robot["clientSecret"])
    data = {**form, "client_id": robot["clientId"], "client_secret": secret}
    response = await client.post(f"/api/v1/auth/tenants/{world.tenant_id}/token", data=data)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert robot["clientSecret"] not in response.text


async def test_other_tenants_and_environment_clients_get_no_token(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    robot = await automation(client, world, ["environments:read"])
    data = {"grant_type": "client_credentials"}
    elsewhere = await client.post(
        f"/api/v1/auth/tenants/{other.tenant_id}/token",
        data=data,
        headers=_basic(robot["clientId"], robot["clientSecret"]),
    )
    assert elsewhere.status_code == 401
    assert elsewhere.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in elsewhere.headers


async def test_permissions_are_enforced(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    robot = await automation(client, world, ["environments:read", "end_users:write"])
    auth = bearer(await token_for(client, world, robot))
    listed = await client.get(f"{world.base}/environments", headers=auth)
    assert listed.status_code == 200
    assert world.environment_id in [item["id"] for item in listed.json()]
    created = await client.post(f"/api/v1/environments/{world.environment_id}/accounts", json=person(), headers=auth)
    assert created.status_code == 201, created.text
    refused = await client.post(f"{world.base}/environments", json={"name": "by-robot"}, headers=auth)
    assert refused.status_code == 403
    assert refused.json()["code"] == "missing_permission"
    reading = await client.get(f"/api/v1/environments/{world.environment_id}/accounts", headers=auth)
    assert reading.status_code == 403
    assert reading.json()["code"] == "missing_permission"
    event = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "end_user.created", AuditEvent.target_id == uuid.UUID(created.json()["id"])
        )
    )
    assert event is not None
    assert event.actor_type == "client"
    assert event.actor_id == uuid.UUID(robot["id"])
    deleted = await client.delete(
        f"/api/v1/environments/{world.environment_id}/accounts/{created.json()['id']}", headers=auth
    )
    assert deleted.status_code == 204, deleted.text


async def test_scope_narrows_the_token(client: httpx.AsyncClient, world: TenantWorld) -> None:
    robot = await automation(client, world, ["environments:read", "environments:write"])
    auth = bearer(await token_for(client, world, robot, scope="environments:read"))
    assert (await client.get(f"{world.base}/environments", headers=auth)).status_code == 200
    refused = await client.post(f"{world.base}/environments", json={"name": "narrow"}, headers=auth)
    assert refused.status_code == 403


async def test_routes_that_need_a_person(client: httpx.AsyncClient, world: TenantWorld) -> None:
    every = ["environments:read", "environments:write", "end_users:read", "end_users:write", "audit:read"]
    auth = bearer(await token_for(client, world, await automation(client, world, every)))
    for method, url, body in [
        ("GET", f"{world.base}/accounts", None),
        ("POST", f"{world.base}/clients", {"name": "child", "permissions": ["environments:read"]}),
        ("GET", f"{world.base}/clients", None),
        ("PATCH", world.base, {"name": "renamed"}),
        ("DELETE", world.base, None),
        ("POST", f"{world.base}/environments/{world.environment_id}/keys/rotate", None),
        ("POST", f"{world.base}/invitations", {"email": "someone@example.com", "role": "admin"}),
    ]:
        response = await client.request(method, url, json=body, headers=auth)
        assert response.status_code == 403, (method, url)
        assert response.json()["code"] == "client_not_allowed"
    session = await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=auth)
    assert session.status_code == 401
    assert (await client.get(world.base, headers=auth)).status_code == 403


async def test_other_tenants_objects_answer_404(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    robot = await automation(client, world, ["environments:read", "end_users:read", "end_users:write"])
    auth = bearer(await token_for(client, world, robot))
    assert (await client.get(f"{other.base}/environments", headers=auth)).status_code == 404
    foreign = f"{world.base}/environments/{other.environment_id}"
    assert (await client.get(foreign, headers=auth)).status_code == 404
    accounts = f"/api/v1/environments/{other.environment_id}/accounts"
    assert (await client.get(accounts, headers=auth)).status_code == 404
    assert (await client.post(accounts, json=person(), headers=auth)).status_code == 404


async def test_deleting_the_client_ends_its_token(client: httpx.AsyncClient, world: TenantWorld) -> None:
    robot = await automation(client, world, ["environments:read"])
    auth = bearer(await token_for(client, world, robot))
    assert (await client.get(f"{world.base}/environments", headers=auth)).status_code == 200
    deleted = await client.delete(f"{world.base}/clients/{robot['id']}", headers=world.owner.auth)
    assert deleted.status_code == 204
    assert (await client.get(f"{world.base}/environments", headers=auth)).status_code == 401


async def test_rotation_without_overlap_ends_its_token(client: httpx.AsyncClient, world: TenantWorld) -> None:
    robot = await automation(client, world, ["environments:read"])
    auth = bearer(await token_for(client, world, robot))
    url = f"{world.base}/clients/{robot['id']}/secrets"
    overlapping = await client.post(url, json={"overlapSeconds": 600}, headers=world.owner.auth)
    assert overlapping.status_code == 201
    assert (await client.get(f"{world.base}/environments", headers=auth)).status_code == 200
    ended = await client.post(url, json={"overlapSeconds": 0}, headers=world.owner.auth)
    assert ended.status_code == 201
    assert (await client.get(f"{world.base}/environments", headers=auth)).status_code == 401
    fresh = {**robot, "clientSecret": ended.json()["clientSecret"]}
    assert (
        await client.get(f"{world.base}/environments", headers=bearer(await token_for(client, world, fresh)))
    ).status_code == 200


async def test_a_permission_taken_away_counts_at_once(client: httpx.AsyncClient, world: TenantWorld) -> None:
    robot = await automation(client, world, ["environments:read", "audit:read"])
    auth = bearer(await token_for(client, world, robot))
    assert (await client.get(f"{world.base}/audit-events", headers=auth)).status_code == 200
    changed = await client.patch(
        f"{world.base}/clients/{robot['id']}", json={"permissions": ["environments:read"]}, headers=world.owner.auth
    )
    assert changed.status_code == 204
    assert (await client.get(f"{world.base}/audit-events", headers=auth)).status_code == 403


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route of the app under `/api/v1`."""
    return {
        (method, context.path or "")
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and (context.path or "").startswith("/api/v1/")
        for method in context.methods or ()
    }


def test_the_table_names_real_routes(app: FastAPI) -> None:
    """Every route of `access.automation`'s table is a route of the API (a renamed one would go unnoticed)."""
    assert set(ROUTES) <= {(method, path.removeprefix("/api/v1")) for method, path in api_routes(app)}
    assert all(permission in AUTOMATION_PERMISSIONS for permission in ROUTES.values())


async def test_expired_tokens_are_purged(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    robot = await automation(client, world, ["environments:read"])
    expired, live = await token_for(client, world, robot), await token_for(client, world, robot)
    await db.execute(
        update(ClientToken).where(ClientToken.token_hash == token_digest(expired)).values(expires_at=utcnow())
    )
    await db.commit()
    assert (await client.get(f"{world.base}/environments", headers=bearer(expired))).status_code == 401
    assert await grants.purge_expired(db) >= 1
    await db.commit()
    left = set(await db.scalars(select(ClientToken.token_hash).where(ClientToken.client_pk == uuid.UUID(robot["id"]))))
    assert left == {token_digest(live)}


@pytest.mark.parametrize("client_id", ["a\x00", "sump_" + "x" * 300])
async def test_a_hostile_client_id_is_refused_not_a_failure(
    client: httpx.AsyncClient, world: TenantWorld, client_id: str
) -> None:
    url = f"/api/v1/auth/tenants/{world.tenant_id}/token"
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "b"}
    by_form = await client.post(url, data=form)
    assert by_form.status_code in {400, 401}, by_form.text
    assert by_form.json()["error"] in {"invalid_request", "invalid_client"}
    by_json = await client.post(
        url, json={"grantType": "client_credentials", "clientId": client_id, "clientSecret": "b"}
    )
    assert by_json.status_code in {400, 401}, by_json.text
