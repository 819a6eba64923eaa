"""The cross-tenant authorisation matrix: every `/api/v1` route, five actors, tenant A's objects.

`MATRIX` below is the written-down answer of each route to each actor:

- anonymous gets 401 on everything but the public routes (creating a tenant; sign-in, sign-up, sign-out,
  forgotten and reset passwords, the token endpoint and its revocation; the JWKS and discovery documents;
  health), which answer every actor alike;
- the owner of tenant B gets 404 on A's objects, as if they did not exist, and 401 on A's sign-in routes
  (a session counts only in its own tenant or environment);
- a user of A gets 403 where an admin or the owner is needed.

Every row runs against a scene of its own: tenant A with its owner, an admin and a user signed in; an
environment of A; a second plain `user` account of A and an end user of that environment to act on (with a
session when the route needs one), an organization and a custom role where the path names them; and tenant B
with its owner signed in. The actors go from the least to the
most privileged in A, so that what the owner does last (deleting the tenant) cannot hide the others' answers.
A route of the app without a row fails `test_every_route_has_a_row`: new routes must be added here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from tests.support import PASSWORD, TenantWorld, bearer, new_tenant, tenant_body

Route = tuple[str, str]
ACTORS = ("anonymous", "owner", "admin", "user", "owner_b")
RUN_ORDER = ("anonymous", "owner_b", "user", "admin", "owner")
NEW_PASSWORD = "another correct horse battery"

# Method, path template, then the status for each actor: anonymous, owner of A, admin of A, user of A, owner of B.
TABLE = """
POST    /api/v1/tenants                                                                         201  201  201  201  201
GET     /api/v1/tenants/{tenantId}                                                              401  200  200  200  404
PATCH   /api/v1/tenants/{tenantId}                                                              401  204  204  403  404
DELETE  /api/v1/tenants/{tenantId}                                                              401  204  403  403  404
PATCH   /api/v1/tenants/{tenantId}/custom-property                                              401  204  204  403  404
DELETE  /api/v1/tenants/{tenantId}/custom-property                                              401  204  204  403  404

GET     /api/v1/tenants/{tenantId}/accounts                                                     401  200  200  200  404
POST    /api/v1/tenants/{tenantId}/accounts                                                     401  201  201  403  404
GET     /api/v1/tenants/{tenantId}/accounts/user-defined-identification                         401  200  200  200  404
GET     /api/v1/tenants/{tenantId}/accounts/{accountId}                                         401  200  200  200  404
PATCH   /api/v1/tenants/{tenantId}/accounts/{accountId}                                         401  204  204  403  404
PATCH   /api/v1/tenants/{tenantId}/accounts/{accountId}/email                                   401  204  204  403  404
PATCH   /api/v1/tenants/{tenantId}/accounts/{accountId}/phone                                   401  204  204  403  404
PATCH   /api/v1/tenants/{tenantId}/accounts/{accountId}/username                                401  204  204  403  404
PATCH   /api/v1/tenants/{tenantId}/accounts/{accountId}/role                                    401  204  204  403  404
PATCH   /api/v1/tenants/{tenantId}/accounts/{accountId}/disable                                 401  204  204  403  404
PATCH   /api/v1/tenants/{tenantId}/accounts/{accountId}/enable                                  401  204  204  403  404
DELETE  /api/v1/tenants/{tenantId}/accounts/{accountId}                                         401  204  204  403  404

POST    /api/v1/tenants/{tenantId}/environments                                                 401  201  201  403  404
GET     /api/v1/tenants/{tenantId}/environments                                                 401  200  200  200  404
GET     /api/v1/tenants/{tenantId}/environments/{environmentId}                                 401  200  200  200  404
PATCH   /api/v1/tenants/{tenantId}/environments/{environmentId}                                 401  204  204  403  404
DELETE  /api/v1/tenants/{tenantId}/environments/{environmentId}                                 401  204  204  403  404
PATCH   /api/v1/tenants/{tenantId}/environments/{environmentId}/custom-property                 401  204  204  403  404
DELETE  /api/v1/tenants/{tenantId}/environments/{environmentId}/custom-property                 401  204  204  403  404
POST    /api/v1/tenants/{tenantId}/environments/{environmentId}/keys/rotate                     401  200  200  403  404
GET     /api/v1/tenants/{tenantId}/audit-events                                                 401  200  200  403  404

POST    /api/v1/environments/{environmentId}/accounts                                           401  201  201  403  404
GET     /api/v1/environments/{environmentId}/accounts                                           401  200  200  200  404
GET     /api/v1/environments/{environmentId}/accounts/{accountId}                               401  200  200  200  404
PATCH   /api/v1/environments/{environmentId}/accounts/{accountId}                               401  204  204  403  404
PATCH   /api/v1/environments/{environmentId}/accounts/{accountId}/email                         401  204  204  403  404
PATCH   /api/v1/environments/{environmentId}/accounts/{accountId}/phone                         401  204  204  403  404
PATCH   /api/v1/environments/{environmentId}/accounts/{accountId}/username                      401  204  204  403  404
PATCH   /api/v1/environments/{environmentId}/accounts/{accountId}/custom-property               401  204  204  403  404
DELETE  /api/v1/environments/{environmentId}/accounts/{accountId}/custom-property               401  204  204  403  404
PATCH   /api/v1/environments/{environmentId}/accounts/{accountId}/disable                       401  204  204  403  404
PATCH   /api/v1/environments/{environmentId}/accounts/{accountId}/enable                        401  204  204  403  404
DELETE  /api/v1/environments/{environmentId}/accounts/{accountId}/sessions                      401  200  200  403  404
POST    /api/v1/environments/{environmentId}/accounts/{accountId}/password-reset                401  202  202  403  404
DELETE  /api/v1/environments/{environmentId}/accounts/{accountId}                               401  204  204  403  404
GET     /api/v1/environments/{environmentId}/audit-events                                       401  200  200  403  404

POST    /api/v1/environments/{environmentId}/organizations                                      401  201  201  403  404
GET     /api/v1/environments/{environmentId}/organizations                                      401  200  200  200  404
GET     /api/v1/environments/{environmentId}/organizations/{organizationId}                     401  200  200  200  404
PATCH   /api/v1/environments/{environmentId}/organizations/{organizationId}                     401  204  204  403  404
DELETE  /api/v1/environments/{environmentId}/organizations/{organizationId}                     401  204  204  403  404
GET     /api/v1/environments/{environmentId}/organizations/{organizationId}/members             401  200  200  200  404
POST    /api/v1/environments/{environmentId}/organizations/{organizationId}/members             401  201  201  403  404
PATCH   /api/v1/environments/{environmentId}/organizations/{organizationId}/members/{accountId} 401  204  204  403  404
DELETE  /api/v1/environments/{environmentId}/organizations/{organizationId}/members/{accountId} 401  204  204  403  404
GET     /api/v1/tenants/{tenantId}/environments/{environmentId}/permissions                     401  200  200  200  404
POST    /api/v1/tenants/{tenantId}/environments/{environmentId}/permissions                     401  201  201  403  404
GET     /api/v1/tenants/{tenantId}/environments/{environmentId}/roles                           401  200  200  200  404
POST    /api/v1/tenants/{tenantId}/environments/{environmentId}/roles                           401  201  201  403  404
PATCH   /api/v1/tenants/{tenantId}/environments/{environmentId}/roles/{roleName}                401  200  200  403  404
DELETE  /api/v1/tenants/{tenantId}/environments/{environmentId}/roles/{roleName}                401  204  204  403  404
GET     /api/v1/environments/{environmentId}/.well-known/jwks.json                              200  200  200  200  200
GET     /api/v1/environments/{environmentId}/.well-known/openid-configuration                   200  200  200  200  200

POST    /api/v1/auth/tenants/{tenantId}/login                                                   200  200  200  200  200
POST    /api/v1/auth/tenants/{tenantId}/logout                                                  204  204  204  204  204
GET     /api/v1/auth/tenants/{tenantId}/session                                                 401  200  200  200  401
GET     /api/v1/auth/tenants/{tenantId}/sessions                                                401  200  200  200  401
DELETE  /api/v1/auth/tenants/{tenantId}/sessions/{sessionId}                                    401  404  404  404  401
POST    /api/v1/auth/tenants/{tenantId}/logout-all                                              401  200  200  200  401
POST    /api/v1/auth/tenants/{tenantId}/forgot-password                                         200  200  200  200  200
POST    /api/v1/auth/tenants/{tenantId}/reset-password                                          400  400  400  400  400
POST    /api/v1/auth/tenants/{tenantId}/change-password                                         401  204  204  204  401

POST    /api/v1/auth/environments/{environmentId}/login                                         200  200  200  200  200
POST    /api/v1/auth/environments/{environmentId}/signup                                        201  201  201  201  201
POST    /api/v1/auth/environments/{environmentId}/logout                                        204  204  204  204  204
GET     /api/v1/auth/environments/{environmentId}/session                                       401  401  401  401  401
GET     /api/v1/auth/environments/{environmentId}/sessions                                      401  401  401  401  401
DELETE  /api/v1/auth/environments/{environmentId}/sessions/{sessionId}                          401  401  401  401  401
POST    /api/v1/auth/environments/{environmentId}/logout-all                                    401  401  401  401  401
POST    /api/v1/auth/environments/{environmentId}/forgot-password                               200  200  200  200  200
POST    /api/v1/auth/environments/{environmentId}/reset-password                                400  400  400  400  400
POST    /api/v1/auth/environments/{environmentId}/change-password                               401  401  401  401  401
POST    /api/v1/auth/environments/{environmentId}/token                                         200  200  200  200  200
POST    /api/v1/auth/environments/{environmentId}/token/revoke                                  200  200  200  200  200
GET     /api/v1/auth/environments/{environmentId}/me                                            401  401  401  401  401

GET     /api/v1/health                                                                          200  200  200  200  200
"""


def parse(table: str) -> dict[Route, dict[str, int]]:
    matrix: dict[Route, dict[str, int]] = {}
    for line in table.strip().splitlines():
        if line.strip() and not line.startswith("#"):
            method, path, *statuses = line.split()
            assert len(statuses) == len(ACTORS), line
            assert (method, path) not in matrix, line
            matrix[method, path] = dict(zip(ACTORS, map(int, statuses), strict=True))
    return matrix


MATRIX = parse(TABLE)

T = "/api/v1/tenants/{tenantId}"
TA = f"{T}/accounts/{{accountId}}"
TE = f"{T}/environments/{{environmentId}}"
EA = "/api/v1/environments/{environmentId}/accounts"
EO = "/api/v1/environments/{environmentId}/organizations"
AT = "/api/v1/auth/tenants/{tenantId}"
AE = "/api/v1/auth/environments/{environmentId}"

# Rows whose success removes, disables or uses up the target: each actor gets targets of its own.
FRESH_TARGETS = {
    ("DELETE", TA),
    ("PATCH", f"{TA}/disable"),
    ("DELETE", TE),
    ("DELETE", f"{TE}/roles/{{roleName}}"),
    ("DELETE", f"{EA}/{{accountId}}"),
    ("PATCH", f"{EA}/{{accountId}}/disable"),
    ("DELETE", f"{EO}/{{organizationId}}"),
    ("POST", f"{EO}/{{organizationId}}/members"),
    ("DELETE", f"{EO}/{{organizationId}}/members/{{accountId}}"),
}


def tag() -> str:
    return uuid.uuid4().hex[:10]


def person() -> dict[str, Any]:
    t = tag()
    return {"name": f"Person {t}", "email": f"person-{t}@example.com", "username": f"p_{t}"}


def phone() -> str:
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


@dataclass
class Call:
    json: Any = None
    params: dict[str, str] | None = None


@dataclass
class Target:
    """An account to act on: a plain `user` of A, or an end user of A's environment."""

    account_id: str
    username: str
    email: str
    session_id: str | None = None


@dataclass
class Scene:
    """Tenant A with its members signed in, tenant B's owner, and the targets in A that a row acts on."""

    http: httpx.AsyncClient
    a: TenantWorld
    tokens: dict[str, str | None]
    ids: dict[str, str] = field(default_factory=dict)
    member: Target = field(init=False)
    end_user: Target = field(init=False)
    newcomer: str = ""

    @classmethod
    async def build(cls, http: httpx.AsyncClient, path: str) -> Scene:
        a, b = await new_tenant(http), await new_tenant(http)
        admin, user = await a.add_member("admin"), await a.add_member("user")
        tokens = {
            "anonymous": None,
            "owner": a.owner.token,
            "admin": admin.token,
            "user": user.token,
            "owner_b": b.owner.token,
        }
        scene = cls(http, a, tokens)
        await scene.aim(path)
        return scene

    async def aim(self, path: str) -> None:
        """New targets for the route: an environment of A, a plain `user` of A and an end user of the environment
        (with a password and a session when the route signs in or names a session), an organization and a custom
        role where the path names them. `ids` fills the path template."""
        password = {"password": PASSWORD} if path.endswith(("/login", "/token")) or "{sessionId}" in path else {}
        environment = await self._created(f"{self.a.base}/environments", {"name": f"matrix-{tag()}"})
        self.member = await self._target(
            f"{self.a.base}/accounts", f"/api/v1/auth/tenants/{self.a.tenant_id}", password
        )
        self.end_user = await self._target(
            f"/api/v1/environments/{environment}/accounts", f"/api/v1/auth/environments/{environment}", password
        )
        in_environment = path.startswith(("/api/v1/environments/", "/api/v1/auth/environments/"))
        target = self.end_user if in_environment else self.member
        self.ids = {"tenantId": self.a.tenant_id, "environmentId": environment, "accountId": target.account_id}
        if target.session_id:
            self.ids["sessionId"] = target.session_id
        if "{organizationId}" in path:
            await self._organization(environment)
        if "{roleName}" in path:
            self.ids["roleName"] = f"role_{tag()}"
            await self._created(f"{self.a.base}/environments/{environment}/roles", {"name": self.ids["roleName"]})

    async def _organization(self, environment: str) -> None:
        """An organization with the end user as ORG_ADMIN and a second end user as ORG_USER (the row's
        `accountId`), and a third end user who is not a member yet."""
        end_users = f"/api/v1/environments/{environment}/accounts"
        organizations = f"/api/v1/environments/{environment}/organizations"
        body = {"name": f"org-{tag()}", "adminAccountId": self.end_user.account_id}
        organization = self.ids["organizationId"] = await self._created(organizations, body)
        member = self.ids["accountId"] = await self._created(end_users, person())
        self.newcomer = await self._created(end_users, person())
        await self._created(f"{organizations}/{organization}/members", {"accountId": member})

    async def _created(self, url: str, body: dict[str, Any]) -> str:
        response = await self.http.post(url, json=body, headers=self.a.owner.auth)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return str(created.get("id", ""))

    async def _target(self, accounts_url: str, auth_url: str, password: dict[str, str]) -> Target:
        body = person()
        target = Target(await self._created(accounts_url, {**body, **password}), body["username"], body["email"])
        if password:
            login = await self.http.post(f"{auth_url}/login", json={"username": target.username, **password})
            assert login.status_code == 200, login.text
            target.session_id = login.json()["session"]["id"]
        return target

    def headers(self, actor: str) -> dict[str, str]:
        token = self.tokens[actor]
        return bearer(token) if token else {}

    def credentials(self, target: Target) -> dict[str, str]:
        return {"username": target.username, "password": PASSWORD}


# A valid request for each route that needs a body or a query; the others are sent without one.
REQUESTS: dict[Route, Callable[[Scene], Call]] = {
    ("POST", "/api/v1/tenants"): lambda s: Call(tenant_body()),
    ("PATCH", T): lambda s: Call({"name": f"Renamed {tag()}"}),
    ("PATCH", f"{T}/custom-property"): lambda s: Call({"plan": "basic"}),
    ("DELETE", f"{T}/custom-property"): lambda s: Call({"customProperty": "plan"}),
    ("POST", f"{T}/accounts"): lambda s: Call(person()),
    ("GET", f"{T}/accounts/user-defined-identification"): lambda s: Call(params={"email": s.member.email}),
    ("PATCH", TA): lambda s: Call({"name": f"Renamed {tag()}"}),
    ("PATCH", f"{TA}/email"): lambda s: Call({"email": f"changed-{tag()}@example.com"}),
    ("PATCH", f"{TA}/phone"): lambda s: Call({"phone": phone()}),
    ("PATCH", f"{TA}/username"): lambda s: Call({"username": f"c_{tag()}"}),
    ("PATCH", f"{TA}/role"): lambda s: Call({"role": "user"}),
    ("POST", f"{T}/environments"): lambda s: Call({"name": f"env-{tag()}"}),
    ("PATCH", TE): lambda s: Call({"name": f"env-{tag()}"}),
    ("PATCH", f"{TE}/custom-property"): lambda s: Call({"region": "eu"}),
    ("DELETE", f"{TE}/custom-property"): lambda s: Call({"customProperty": "region"}),
    ("POST", EA): lambda s: Call(person()),
    ("PATCH", f"{EA}/{{accountId}}"): lambda s: Call({"name": f"Renamed {tag()}"}),
    ("PATCH", f"{EA}/{{accountId}}/email"): lambda s: Call({"email": f"changed-{tag()}@example.com"}),
    ("PATCH", f"{EA}/{{accountId}}/phone"): lambda s: Call({"phone": phone()}),
    ("PATCH", f"{EA}/{{accountId}}/username"): lambda s: Call({"username": f"c_{tag()}"}),
    ("PATCH", f"{EA}/{{accountId}}/custom-property"): lambda s: Call({"plan": "basic"}),
    ("DELETE", f"{EA}/{{accountId}}/custom-property"): lambda s: Call({"customProperty": "plan"}),
    ("POST", EO): lambda s: Call({"name": f"org-{tag()}", "adminAccountId": s.end_user.account_id}),
    ("PATCH", f"{EO}/{{organizationId}}"): lambda s: Call({"name": f"org-{tag()}"}),
    ("POST", f"{EO}/{{organizationId}}/members"): lambda s: Call({"accountId": s.newcomer}),
    ("PATCH", f"{EO}/{{organizationId}}/members/{{accountId}}"): lambda s: Call({"role": "ORG_ADMIN"}),
    ("POST", f"{TE}/permissions"): lambda s: Call({"name": f"p{tag()}:read"}),
    ("POST", f"{TE}/roles"): lambda s: Call({"name": f"role_{tag()}", "permissions": []}),
    ("PATCH", f"{TE}/roles/{{roleName}}"): lambda s: Call({"description": f"Changed {tag()}"}),
    ("POST", f"{AT}/login"): lambda s: Call(s.credentials(s.member)),
    ("POST", f"{AT}/forgot-password"): lambda s: Call({"email": s.member.email}),
    ("POST", f"{AT}/reset-password"): lambda s: Call({"token": tag() * 4, "newPassword": NEW_PASSWORD}),
    ("POST", f"{AT}/change-password"): lambda s: Call({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
    ("POST", f"{AE}/login"): lambda s: Call(s.credentials(s.end_user)),
    ("POST", f"{AE}/signup"): lambda s: Call({**person(), "password": PASSWORD}),
    ("POST", f"{AE}/forgot-password"): lambda s: Call({"email": s.end_user.email}),
    ("POST", f"{AE}/reset-password"): lambda s: Call({"token": tag() * 4, "newPassword": NEW_PASSWORD}),
    ("POST", f"{AE}/change-password"): lambda s: Call({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
    ("POST", f"{AE}/token"): lambda s: Call({"grantType": "password", **s.credentials(s.end_user)}),
    ("POST", f"{AE}/token/revoke"): lambda s: Call({"refreshToken": tag() * 4}),
}


def without_body(scene: Scene) -> Call:
    return Call()


def api_routes(app: FastAPI) -> set[Route]:
    """(method, path template) of every route of the app under `/api/v1`."""
    routes: set[Route] = set()
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if isinstance(context.original_route, APIRoute) and path.startswith("/api/v1/"):
            routes.update((method, path) for method in context.methods or ())
    return routes


def is_success(status: int) -> bool:
    return 200 <= status < 300


def report(route: Route, got: dict[str, int], expected: dict[str, int]) -> str:
    lines = [f"{' '.join(route)}:", f"  {'actor':<10} expected  got"]
    for actor in ACTORS:
        flag = "" if got[actor] == expected[actor] else "  <-- differs"
        lines.append(f"  {actor:<10} {expected[actor]:>8}  {got[actor]:>3}{flag}")
    return "\n".join(lines)


@pytest.mark.asvs("AC-01")
async def test_every_route_has_a_row(app: FastAPI) -> None:
    routes = api_routes(app)
    assert routes - MATRIX.keys() == set(), "routes without a row in the matrix: add them to TABLE"
    assert MATRIX.keys() - routes == set(), "rows of the matrix without a route"
    assert set(REQUESTS) <= routes
    assert routes >= FRESH_TARGETS


@pytest.mark.asvs("AC-01", "AC-02", "SESS-09")
@pytest.mark.parametrize("route", list(MATRIX), ids=" ".join)
async def test_matrix(client: httpx.AsyncClient, route: Route) -> None:
    method, path = route
    scene = await Scene.build(client, path)
    got: dict[str, int] = {}
    for actor in RUN_ORDER:
        if route in FRESH_TARGETS:
            await scene.aim(path)
        call = REQUESTS.get(route, without_body)(scene)
        url = path.format(**scene.ids)
        response = await client.request(method, url, json=call.json, params=call.params, headers=scene.headers(actor))
        got[actor] = response.status_code

    expected = MATRIX[route]
    unexpected_success = [actor for actor in ACTORS if is_success(got[actor]) and got[actor] != expected[actor]]
    assert unexpected_success == [], report(route, got, expected)
    assert [got[actor] for actor in ACTORS] == [expected[actor] for actor in ACTORS], report(route, got, expected)


@pytest.mark.asvs("SESS-09")
async def test_a_session_cookie_counts_only_in_its_own_tenant(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = await client.post("/api/v1/tenants", json=tenant_body())
    assert created.status_code == 201
    own = created.json()["tenantId"]
    cookie = {"Cookie": created.headers["set-cookie"].split(";", 1)[0]}

    assert (await client.get(f"/api/v1/auth/tenants/{own}/session", headers=cookie)).status_code == 200
    assert (await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=cookie)).status_code == 401
    assert (await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/sessions", headers=cookie)).status_code == 401
    assert (await client.get(world.base, headers=cookie)).status_code == 404
    assert (await client.get(f"{world.base}/accounts", headers=cookie)).status_code == 404
    end_users = await client.get(f"/api/v1/environments/{world.environment_id}/accounts", headers=cookie)
    assert end_users.status_code == 404


async def twin(client: httpx.AsyncClient, owner: dict[str, Any], member: dict[str, Any]) -> TenantWorld:
    """A tenant whose owner, member, environment and end user carry the same identifiers as its twin's."""
    world = await new_tenant(client, account=owner, environment={"name": "production"})
    for url, body in (
        (f"{world.base}/accounts", member),
        (f"{world.base}/environments", {"name": "staging"}),
        (f"/api/v1/environments/{world.environment_id}/accounts", member),
    ):
        response = await client.post(url, json=body, headers=world.owner.auth)
        assert response.status_code == 201, response.text
    return world


async def listed(client: httpx.AsyncClient, world: TenantWorld, url: str) -> list[dict[str, Any]]:
    response = await client.get(url, params={"limit": 200}, headers=world.owner.auth)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


@pytest.mark.asvs("AC-08")
async def test_twin_tenants_list_only_their_own_rows(client: httpx.AsyncClient) -> None:
    owner = {**person(), "password": PASSWORD}
    member = person()
    a = await twin(client, owner, member)
    b = await twin(client, owner, member)

    for one, other in ((a, b), (b, a)):
        lists = {
            "accounts": await listed(client, one, f"{one.base}/accounts"),
            "environments": await listed(client, one, f"{one.base}/environments"),
            "end users": await listed(client, one, f"/api/v1/environments/{one.environment_id}/accounts"),
            "tenant environments": (await client.get(one.base, headers=one.owner.auth)).json()["environments"],
        }
        others = {
            "accounts": await listed(client, other, f"{other.base}/accounts"),
            "environments": await listed(client, other, f"{other.base}/environments"),
            "end users": await listed(client, other, f"/api/v1/environments/{other.environment_id}/accounts"),
        }
        for name, rows in lists.items():
            assert {row["tenantId"] for row in rows} == {one.tenant_id}, name
        assert len(lists["accounts"]) == 2
        assert {row["name"] for row in lists["environments"]} == {"production", "staging"}
        assert [row["environmentId"] for row in lists["end users"]] == [one.environment_id]
        for name, rows in others.items():
            assert not {row["id"] for row in lists[name]} & {row["id"] for row in rows}, name

        found = await client.get(
            f"{one.base}/accounts/user-defined-identification",
            params={"email": member["email"]},
            headers=one.owner.auth,
        )
        assert found.status_code == 200
        assert found.json()["tenantId"] == one.tenant_id
        assert found.json()["id"] in {row["id"] for row in lists["accounts"]}
