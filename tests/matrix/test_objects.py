"""The object-level case of the cross-tenant matrix: tenant B's real object ids sent through tenant A's paths.

For every route of the table that names an object (environment, account, session, organization, membership,
role), each of B's ids in turn, and then all of them, replaces A's in the path; tenant A's owner sends it (on
an end user's sign-in routes, an end user of A's environment). The answer is 404, as if the object did not
exist, and B's objects read the same afterwards. On `/auth/…` routes the tenant or environment is the caller's
own context and stays A's: a foreign context answers 401, which `test_actors.py` covers.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.matrix.scene import Scene, request_for, tag
from tests.matrix.table import MATRIX, Route
from tests.support import bearer, new_tenant

OBJECT_IDS = (
    "environmentId",
    "accountId",
    "sessionId",
    "organizationId",
    "roleName",
    "permissionName",
    "invitationId",
)


def foreign_ids(path: str) -> list[str]:
    """The placeholders of `path` that name an object another tenant could own."""
    names = [name for name in re.findall(r"{(\w+)}", path) if name in OBJECT_IDS]
    if path.startswith("/api/v1/auth/"):
        names = [name for name in names if name != "environmentId"]
    return names


def variants(path: str) -> list[tuple[str, ...]]:
    """Which of the path's object ids are B's: each alone, then all at once."""
    names = foreign_ids(path)
    return [(name,) for name in names] + ([tuple(names)] if len(names) > 1 else [])


# Routes that answer every actor alike (sign-in, discovery…) take no one's object: they are left out.
OBJECT_ROUTES = [
    route
    for route, row in MATRIX.items()
    if foreign_ids(route[1]) and row["anonymous"] == 401 and len(set(row.values())) > 1
]


async def state_of(http: httpx.AsyncClient, scene: Scene) -> dict[str, Any]:
    """What the tenant's owner reads of the scene's tenant and objects, and whether its targets' sessions live."""
    world, environment = scene.a, scene.ids["environmentId"]
    reads = {
        "tenant": world.base,
        "accounts": f"{world.base}/accounts",
        "invitations": f"{world.base}/invitations",
        "audit": f"{world.base}/audit-events",
        "environment": f"{world.base}/environments/{environment}",
        "roles": f"{world.base}/environments/{environment}/roles",
        "permissions": f"{world.base}/environments/{environment}/permissions",
        "end users": f"/api/v1/environments/{environment}/accounts",
        "organizations": f"/api/v1/environments/{environment}/organizations",
        "keys": f"/api/v1/environments/{environment}/.well-known/jwks.json",
    }
    if "organizationId" in scene.ids:
        reads["members"] = f"/api/v1/environments/{environment}/organizations/{scene.ids['organizationId']}/members"
        invitations = f"/api/v1/environments/{environment}/organizations/{scene.ids['organizationId']}/invitations"
        reads["organization invitations"] = invitations
    state: dict[str, Any] = {}
    for name, url in reads.items():
        response = await http.get(url, params={"limit": 200} if name != "keys" else None, headers=world.owner.auth)
        state[name] = (response.status_code, response.json())
    sessions = {
        "member session": (f"/api/v1/auth/tenants/{world.tenant_id}/session", scene.member.token),
        "end user session": (f"/api/v1/auth/environments/{environment}/session", scene.end_user.token),
    }
    for name, (url, token) in sessions.items():
        if token:
            response = await http.get(url, headers=bearer(token))
            state[name] = (response.status_code, response.json().get("id"))
    return state


@pytest.mark.asvs("AC-02", "AC-08", "SESS-08")
@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=" ".join)
async def test_another_tenants_object_through_this_tenants_path_is_404(client: httpx.AsyncClient, route: Route) -> None:
    method, path = route
    a, b = await new_tenant(client), await new_tenant(client)
    here, there = await Scene.home(client, a, path), await Scene.home(client, b, path)
    here.actor = "end_user" if path.startswith("/api/v1/auth/environments/") else "owner"
    before = await state_of(client, there)

    for foreign in variants(path):
        ids = {**here.ids, **{name: there.ids[name] for name in foreign}}
        call = request_for(route, here)
        response = await client.request(
            method, path.format(**ids), json=call.json, params=call.params, headers=here.headers(here.actor)
        )
        assert response.status_code == 404, (foreign, response.text)
        assert response.json()["code"].endswith("_not_found"), (foreign, response.text)
        assert await state_of(client, there) == before, foreign


async def refresh_token(http: httpx.AsyncClient, scene: Scene) -> str:
    """A refresh token of the scene's end user target (signed in with a password)."""
    response = await http.post(
        f"/api/v1/auth/environments/{scene.ids['environmentId']}/token",
        json={"grantType": "password", **scene.credentials(scene.end_user)},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["refreshToken"]
    return token


@pytest.mark.asvs("AC-02", "AC-04")
async def test_another_tenants_end_user_named_in_a_body_is_404(client: httpx.AsyncClient) -> None:
    """Organizations take end users by id in the body: B's end user is no one in A's environment."""
    path = "/api/v1/environments/{environmentId}/organizations/{organizationId}"
    a, b = await new_tenant(client), await new_tenant(client)
    here, there = await Scene.home(client, a, path), await Scene.home(client, b, path)
    before = await state_of(client, there)
    organizations = f"/api/v1/environments/{here.ids['environmentId']}/organizations"
    calls = [
        (organizations, {"name": f"org-{tag()}", "adminAccountId": there.end_user.account_id}),
        (f"{organizations}/{here.ids['organizationId']}/members", {"accountId": there.newcomer}),
        (f"{organizations}/{here.ids['organizationId']}/members", {"accountId": there.ids["accountId"]}),
    ]
    for url, body in calls:
        response = await client.post(url, json=body, headers=a.owner.auth)
        assert (response.status_code, response.json().get("code")) == (404, "account_not_found"), (url, body)
    assert await state_of(client, there) == before


@pytest.mark.asvs("AC-02", "JWT-05")
async def test_another_tenants_refresh_token_does_nothing_in_this_environment(client: httpx.AsyncClient) -> None:
    path = "/api/v1/auth/environments/{environmentId}/token"
    a, b = await new_tenant(client), await new_tenant(client)
    here, there = await Scene.home(client, a, path), await Scene.home(client, b, path)
    theirs = await refresh_token(client, there)
    token_url = f"/api/v1/auth/environments/{here.ids['environmentId']}/token"

    refreshed = await client.post(token_url, json={"grantType": "refresh_token", "refreshToken": theirs})
    revoked = await client.post(f"{token_url}/revoke", json={"refreshToken": theirs})

    assert (refreshed.status_code, refreshed.json()["code"]) == (401, "invalid_grant"), refreshed.text
    assert (revoked.status_code, revoked.json()) == (200, {"revoked": True})
    own = await client.post(
        f"/api/v1/auth/environments/{there.ids['environmentId']}/token",
        json={"grantType": "refresh_token", "refreshToken": theirs},
    )
    assert own.status_code == 200, own.text
