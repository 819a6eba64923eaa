"""Registering clients through the API, for the clients tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support import Member, TenantWorld


def clients_url(world: TenantWorld, environment_id: str | None = None) -> str:
    environment = environment_id or world.environment_id
    return f"{world.base}/environments/{environment}/clients"


def application(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"app-{uuid.uuid4().hex[:8]}",
        "purpose": "application",
        "redirectUris": ["https://app.example.com/callback", "http://127.0.0.1/callback"],
        "scopes": ["openid", "email", "offline_access"],
    }
    body.update(overrides)
    return body


def machine(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"machine-{uuid.uuid4().hex[:8]}",
        "purpose": "machine",
        "audience": "https://api.example.com",
        "permissions": ["projects:read"],
    }
    body.update(overrides)
    return body


async def register(
    http: httpx.AsyncClient,
    world: TenantWorld,
    body: dict[str, Any],
    environment_id: str | None = None,
    by: Member | None = None,
) -> dict[str, Any]:
    response = await http.post(clients_url(world, environment_id), json=body, headers=(by or world.owner).auth)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def automation(
    http: httpx.AsyncClient, world: TenantWorld, permissions: list[str], by: Member | None = None
) -> dict[str, Any]:
    body = {"name": f"robot-{uuid.uuid4().hex[:8]}", "permissions": permissions}
    response = await http.post(f"{world.base}/clients", json=body, headers=(by or world.owner).auth)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
