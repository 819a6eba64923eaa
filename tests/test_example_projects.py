"""examples/projects against a real `sump serve`: the app runs in-process, its verifier fetches the JWKS over HTTP.

Sump is set up through its public API only: a tenant, an environment for the app and the tenant's default one
as "another environment", end users who sign up, organization A (ORG_ADMIN creator, an ORG_USER, a READ_ONLY)
and organization B (whose ORG_ADMIN is another user; A's ORG_USER is also a member of B).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from examples.projects.app import Settings, create_app
from tests.servers import Server, free_port, sqlite_environment, start_server
from tests.support import PASSWORD


@pytest.fixture(scope="module")
def sump(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("sump")
    port = free_port()
    # The public URL is the tokens' issuer, which the example's verifier derives from SUMP_URL.
    environment = sqlite_environment(directory, SUMP_PUBLIC_URL=f"http://127.0.0.1:{port}")
    server = start_server(directory, environment, port)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            code = server.stop()
            assert code == 0, f"exit status {code} after SIGTERM:\n{server.log_text()[-3000:]}"


# --- the Sump side, through its HTTP API -----------------------------------------------------------------------


@dataclass
class User:
    id: str
    email: str
    session: str


@dataclass
class World:
    sump_url: str
    environment_id: str
    other_environment_id: str
    org_a: str
    org_b: str
    admin: User
    member: User
    viewer: User
    b_admin: User
    tokens: dict[str, str]
    """Access tokens by name: admin, member, viewer (organization A), member_b, b_admin (organization B), loner
    (no organization), stranger (ORG_ADMIN in the other environment), owner (a tenant account's session)."""

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def sign_up(http: httpx.Client, environment_id: str, role: str) -> User:
    tag = uuid.uuid4().hex[:8]
    body = {"name": f"{role} {tag}", "email": f"{role}-{tag}@example.com", "username": f"{role}_{tag}"}
    created = ok(
        http.post(f"/api/v1/auth/environments/{environment_id}/signup", json={**body, "password": PASSWORD}), 201
    )
    return User(created["accountId"], body["email"], created["token"])


def create_organization(http: httpx.Client, environment_id: str, admin: User, name: str) -> str:
    created = ok(
        http.post(
            f"/api/v1/environments/{environment_id}/organizations",
            json={"name": name},
            headers={"Authorization": f"Bearer {admin.session}"},
        ),
        201,
    )
    organization_id: str = created["id"]
    return organization_id


def add_member(
    http: httpx.Client, environment_id: str, organization_id: str, owner: dict[str, str], user: User, role: str
) -> None:
    """The tenant's owner adds the member (an end user's ORG_ADMIN would invite them)."""
    ok(
        http.post(
            f"/api/v1/environments/{environment_id}/organizations/{organization_id}/members",
            json={"accountId": user.id, "role": role},
            headers=owner,
        ),
        201,
    )


def access_token(http: httpx.Client, environment_id: str, user: User, organization_id: str | None) -> str:
    body = {"grantType": "password", "email": user.email, "password": PASSWORD}
    if organization_id is not None:
        body["organizationId"] = organization_id
    token: str = ok(http.post(f"/api/v1/auth/environments/{environment_id}/token", json=body))["accessToken"]
    return token


@pytest.fixture(scope="module")
def world(sump: Server) -> World:
    tag = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=sump.base_url, timeout=10) as http:
        tenant = ok(
            http.post(
                "/api/v1/tenants",
                json={
                    "tenant": {"name": f"Projects {tag}"},
                    "account": {
                        "name": "Olive Owner",
                        "email": f"owner-{tag}@example.com",
                        "username": f"owner_{tag}",
                        "password": PASSWORD,
                    },
                },
            ),
            201,
        )
        owner = {"Authorization": f"Bearer {tenant['token']}"}
        env = ok(
            http.post(f"/api/v1/tenants/{tenant['tenantId']}/environments", json={"name": "app"}, headers=owner), 201
        )
        env_id, other_env_id = env["id"], tenant["environmentId"]

        admin, member, viewer, b_admin, loner = (
            sign_up(http, env_id, role) for role in ("admin", "member", "viewer", "badmin", "loner")
        )
        org_a = create_organization(http, env_id, admin, f"Org A {tag}")
        add_member(http, env_id, org_a, owner, member, "ORG_USER")
        add_member(http, env_id, org_a, owner, viewer, "READ_ONLY")
        org_b = create_organization(http, env_id, b_admin, f"Org B {tag}")
        add_member(http, env_id, org_b, owner, member, "ORG_USER")

        stranger = sign_up(http, other_env_id, "stranger")
        stranger_org = create_organization(http, other_env_id, stranger, f"Elsewhere {tag}")

        tokens = {
            "admin": access_token(http, env_id, admin, org_a),
            "member": access_token(http, env_id, member, org_a),
            "viewer": access_token(http, env_id, viewer, org_a),
            "member_b": access_token(http, env_id, member, org_b),
            "b_admin": access_token(http, env_id, b_admin, org_b),
            "loner": access_token(http, env_id, loner, None),
            "stranger": access_token(http, other_env_id, stranger, stranger_org),
            "owner": tenant["token"],
        }
    return World(sump.base_url, env_id, other_env_id, org_a, org_b, admin, member, viewer, b_admin, tokens)


# --- the example app, in-process ---------------------------------------------------------------------------------


def settings_for(world: World, directory: Path) -> Settings:
    return Settings(
        sump_url=world.sump_url,
        environment_id=uuid.UUID(world.environment_id),
        database_url=f"sqlite+aiosqlite:///{directory / 'projects.db'}",
    )


@pytest.fixture
async def projects(world: World, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The example app on its own fresh database, started (its lifespan creates the table) and stopped."""
    app = create_app(settings_for(world, tmp_path))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://projects.test") as http,
    ):
        yield http


async def create(http: httpx.AsyncClient, world: World, who: str, name: str, **fields: Any) -> dict[str, Any]:
    response = await http.post("/projects", json={"name": name, **fields}, headers=world.auth(who))
    return ok(response, 201)


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["message"]
    code: str = body["code"]
    return code


async def test_each_role_gets_what_the_catalog_grants(projects: httpx.AsyncClient, world: World) -> None:
    denied = await projects.post("/projects", json={"name": "Viewer's"}, headers=world.auth("viewer"))
    assert error_code(denied, 403) == "forbidden"
    assert "projects:write" in denied.json()["message"]
    by_member = await create(projects, world, "member", "Member's")
    by_admin = await create(projects, world, "admin", "Admin's")

    listed = await projects.get("/projects", headers=world.auth("viewer"))
    assert [project["id"] for project in listed.json()] == [by_admin["id"], by_member["id"]]
    assert ok(await projects.get(f"/projects/{by_member['id']}", headers=world.auth("viewer"))) == by_member

    renamed = {"name": "Viewer was here"}
    viewer_patch = await projects.patch(f"/projects/{by_admin['id']}", json=renamed, headers=world.auth("viewer"))
    assert error_code(viewer_patch, 403) == "forbidden"
    patched = ok(await projects.patch(f"/projects/{by_admin['id']}", json=renamed, headers=world.auth("member")))
    assert patched["name"] == "Viewer was here"

    for who in ("viewer", "member"):
        refused = await projects.delete(f"/projects/{by_member['id']}", headers=world.auth(who))
        assert error_code(refused, 403) == "forbidden"
        assert "projects:delete" in refused.json()["message"]
    deleted = await projects.delete(f"/projects/{by_member['id']}", headers=world.auth("admin"))
    assert deleted.status_code == 204
    assert not deleted.content
    gone = await projects.get(f"/projects/{by_member['id']}", headers=world.auth("admin"))
    assert error_code(gone, 404) == "project_not_found"
    again = await projects.delete(f"/projects/{by_member['id']}", headers=world.auth("admin"))
    assert error_code(again, 404) == "project_not_found"


async def test_names_are_unique_per_organization_only(projects: httpx.AsyncClient, world: World) -> None:
    roadmap = await create(projects, world, "admin", "Roadmap")
    duplicate = await projects.post("/projects", json={"name": "Roadmap"}, headers=world.auth("member"))
    assert error_code(duplicate, 409) == "project_name_taken"
    padded = await projects.post("/projects", json={"name": "  Roadmap "}, headers=world.auth("member"))
    assert error_code(padded, 409) == "project_name_taken", "names are compared trimmed"
    in_b = await create(projects, world, "b_admin", "Roadmap")
    assert in_b["organizationId"] == world.org_b

    other = await create(projects, world, "member", "Budget")
    clash = await projects.patch(f"/projects/{other['id']}", json={"name": "Roadmap"}, headers=world.auth("member"))
    assert error_code(clash, 409) == "project_name_taken"
    kept = ok(await projects.get(f"/projects/{other['id']}", headers=world.auth("member")))
    assert kept["name"] == "Budget"

    same = await projects.patch(f"/projects/{roadmap['id']}", json={"name": "Roadmap"}, headers=world.auth("admin"))
    assert same.status_code == 200, "keeping one's own name is no clash"
    assert (await projects.delete(f"/projects/{roadmap['id']}", headers=world.auth("admin"))).status_code == 204
    await create(projects, world, "member", "Roadmap")


async def test_list_is_newest_first_and_records_the_creator(projects: httpx.AsyncClient, world: World) -> None:
    first = await create(projects, world, "member", "First", description="one")
    second = await create(projects, world, "admin", "Second")
    third = await create(projects, world, "member", "Third")
    assert set(first) == {"id", "name", "description", "organizationId", "createdByUserId", "createdAt", "updatedAt"}
    assert (first["createdByUserId"], second["createdByUserId"]) == (world.member.id, world.admin.id)
    assert {first["organizationId"], second["organizationId"], third["organizationId"]} == {world.org_a}
    assert (first["description"], second["description"]) == ("one", None)
    assert first["createdAt"] == first["updatedAt"]

    updated = ok(
        await projects.patch(f"/projects/{first['id']}", json={"description": "uno"}, headers=world.auth("admin"))
    )
    assert (updated["name"], updated["description"]) == ("First", "uno")
    assert updated["createdByUserId"] == world.member.id, "the creator stays, whoever edits"
    assert updated["createdAt"] == first["createdAt"]
    assert instant(updated["updatedAt"]) > instant(first["updatedAt"])
    cleared = await projects.patch(f"/projects/{first['id']}", json={"description": None}, headers=world.auth("member"))
    assert ok(cleared)["description"] is None

    listed = ok_list(await projects.get("/projects", headers=world.auth("member")))
    assert [project["id"] for project in listed] == [third["id"], second["id"], first["id"]]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ok_list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


async def test_another_organizations_project_answers_404(projects: httpx.AsyncClient, world: World) -> None:
    theirs = await create(projects, world, "b_admin", "Their secret", description="b only")
    ours = await create(projects, world, "admin", "Ours")
    url = f"/projects/{theirs['id']}"
    for who in ("admin", "member", "viewer"):
        assert error_code(await projects.get(url, headers=world.auth(who)), 404) == "project_not_found"
    patch = await projects.patch(url, json={"name": "Taken over"}, headers=world.auth("admin"))
    assert error_code(patch, 404) == "project_not_found"
    assert error_code(await projects.delete(url, headers=world.auth("admin")), 404) == "project_not_found"
    assert [project["id"] for project in ok_list(await projects.get("/projects", headers=world.auth("admin")))] == [
        ours["id"]
    ]

    # The member of both organizations sees what the token's organization owns, not what the account may reach.
    assert error_code(await projects.get(url, headers=world.auth("member")), 404) == "project_not_found"
    assert ok(await projects.get(url, headers=world.auth("member_b"))) == theirs
    in_b = ok_list(await projects.get("/projects", headers=world.auth("member_b")))
    assert [project["id"] for project in in_b] == [theirs["id"]]
    ours_from_b = await projects.get(f"/projects/{ours['id']}", headers=world.auth("member_b"))
    assert error_code(ours_from_b, 404) == "project_not_found"


async def test_tokens_that_do_not_verify_answer_401(projects: httpx.AsyncClient, world: World) -> None:
    stranger = jwt.decode(world.tokens["stranger"], options={"verify_signature": False})
    assert "projects:read" in stranger["permissions"], "the stranger would pass if the environment were not checked"
    admin = world.tokens["admin"]
    head, payload, signature = admin.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    attempts = {
        "no header": {},
        "empty bearer": {"Authorization": "Bearer "},
        "another scheme": {"Authorization": f"Basic {admin}"},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "tampered signature": {"Authorization": f"Bearer {tampered}"},
        "a tenant account's session token": world.auth("owner"),
        "a token of another environment": world.auth("stranger"),
    }
    for what, headers in attempts.items():
        response = await projects.get("/projects", headers=headers)
        assert response.status_code == 401, what
        assert error_code(response, 401) == "unauthenticated", what
        assert response.headers["www-authenticate"].startswith("Bearer"), what
    refused = await projects.post("/projects", json={"name": "x"}, headers=world.auth("stranger"))
    assert refused.status_code == 401, "authentication comes before validation and writes"


async def test_a_token_without_organization_is_forbidden(projects: httpx.AsyncClient, world: World) -> None:
    assert jwt.decode(world.tokens["loner"], options={"verify_signature": False})["org_id"] is None
    for response in (
        await projects.get("/projects", headers=world.auth("loner")),
        await projects.post("/projects", json={"name": "Orphan"}, headers=world.auth("loner")),
        await projects.get(f"/projects/{uuid.uuid4()}", headers=world.auth("loner")),
    ):
        assert error_code(response, 403) == "organization_required"


async def test_bad_requests_answer_400_with_the_fields(projects: httpx.AsyncClient, world: World) -> None:
    auth = world.auth("member")
    project = await create(projects, world, "member", "Valid")
    bad = {
        "empty name": await projects.post("/projects", json={"name": "   "}, headers=auth),
        "no name": await projects.post("/projects", json={"description": "x"}, headers=auth),
        "unknown field": await projects.post("/projects", json={"name": "x", "owner": "me"}, headers=auth),
        "long name": await projects.post("/projects", json={"name": "n" * 201}, headers=auth),
        "not json": await projects.post("/projects", content=b"{", headers=auth | {"content-type": "application/json"}),
        "empty patch": await projects.patch(f"/projects/{project['id']}", json={}, headers=auth),
        "null name": await projects.patch(f"/projects/{project['id']}", json={"name": None}, headers=auth),
        "not an id": await projects.get("/projects/42", headers=auth),
    }
    for what, response in bad.items():
        assert error_code(response, 400) == "validation_failed", what
        assert response.json()["errors"], what
        assert "n" * 201 not in response.text, "values are not echoed back"
    missing = await projects.get(f"/projects/{uuid.uuid4()}", headers=auth)
    assert error_code(missing, 404) == "project_not_found"
    assert error_code(await projects.get("/nowhere", headers=auth), 404) == "not_found"
    assert error_code(await projects.put(f"/projects/{project['id']}", headers=auth), 405) == "method_not_allowed"


async def test_projects_outlive_a_restart_of_the_app(world: World, tmp_path: Path) -> None:
    """The table is created at startup, once: a second start on the same database finds the projects."""
    created: dict[str, Any] = {}
    for start in range(2):
        app = create_app(settings_for(world, tmp_path))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://projects.test") as http,
        ):
            if start == 0:
                created = await create(http, world, "admin", "Durable")
            listed = ok_list(await http.get("/projects", headers=world.auth("viewer")))
            assert listed == [created]
