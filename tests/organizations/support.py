"""Helpers of the organization tests: organizations with members of each built-in role, and token requests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from tests.support import EndUser, Member, TenantWorld

ALL_NINE = [
    "audit:read",
    "permissions:read",
    "projects:delete",
    "projects:read",
    "projects:write",
    "roles:read",
    "tenant:read",
    "users:manage",
    "users:read",
]
ORG_USER_PERMISSIONS = [
    "permissions:read",
    "projects:read",
    "projects:write",
    "roles:read",
    "tenant:read",
    "users:read",
]
READ_ONLY_PERMISSIONS = ["permissions:read", "projects:read", "roles:read", "tenant:read"]


def orgs_url(environment_id: str, *parts: str) -> str:
    return "/".join([f"/api/v1/environments/{environment_id}/organizations", *parts])


def catalog_url(world: TenantWorld, what: str, environment_id: str | None = None) -> str:
    return f"{world.base}/environments/{environment_id or world.environment_id}/{what}"


async def create_org(client: httpx.AsyncClient, user: EndUser, name: str | None = None) -> str:
    body = {"name": name or f"Org {uuid.uuid4().hex[:8]}"}
    response = await client.post(orgs_url(user.environment_id), json=body, headers=user.auth)
    assert response.status_code == 201, response.text
    organization_id: str = response.json()["id"]
    return organization_id


async def add_member(client: httpx.AsyncClient, by: Member, organization_id: str, member: EndUser, role: str) -> None:
    """A tenant account adds the member directly (end users' ORG_ADMINs invite)."""
    response = await client.post(
        orgs_url(member.environment_id, organization_id, "members"),
        json={"accountId": member.account_id, "role": role},
        headers=by.auth,
    )
    assert response.status_code == 201, response.text


async def member_roles(client: httpx.AsyncClient, admin: EndUser, organization_id: str) -> dict[str, str]:
    response = await client.get(orgs_url(admin.environment_id, organization_id, "members"), headers=admin.auth)
    assert response.status_code == 200, response.text
    return {member["accountId"]: member["role"] for member in response.json()}


@dataclass
class Scene:
    """An organization with an ORG_ADMIN, an ORG_USER and a READ_ONLY member, and an outsider."""

    organization_id: str
    admin: EndUser
    user: EndUser
    viewer: EndUser
    outsider: EndUser


async def scene(client: httpx.AsyncClient, world: TenantWorld) -> Scene:
    admin, user, viewer, outsider = [await world.add_end_user(world.environment_id) for _ in range(4)]
    organization_id = await create_org(client, admin)
    await add_member(client, world.owner, organization_id, user, "ORG_USER")
    await add_member(client, world.owner, organization_id, viewer, "READ_ONLY")
    return Scene(organization_id, admin, user, viewer, outsider)


async def token_request(
    client: httpx.AsyncClient, user: EndUser, organization_id: str | None = None, grant: str = "password"
) -> httpx.Response:
    body: dict[str, Any] = {"grantType": grant}
    headers: dict[str, str] = {}
    if grant == "password":
        body |= {"email": user.email, "password": user.password}
    else:
        headers = user.auth
    if organization_id is not None:
        body["organizationId"] = organization_id
    return await client.post(f"/api/v1/auth/environments/{user.environment_id}/token", json=body, headers=headers)


async def tokens_of(client: httpx.AsyncClient, user: EndUser, organization_id: str | None = None) -> dict[str, Any]:
    response = await token_request(client, user, organization_id)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def refresh(client: httpx.AsyncClient, user: EndUser, refresh_token: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/auth/environments/{user.environment_id}/token",
        json={"grantType": "refresh_token", "refreshToken": refresh_token},
    )


def claims(access_token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return decoded
