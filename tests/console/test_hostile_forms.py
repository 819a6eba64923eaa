"""Every console form, posted with hostile values and a valid CSRF token by a signed-in owner, on SQLite and
PostgreSQL: the answer is an HTML page below 500, and nothing typed comes back unescaped."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from tests.support import PASSWORD, TenantWorld

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
FIELDS = (
    "access", "action", "admin", "audience", "avatarUrl", "confirm", "currentPassword", "description", "email",
    "environmentName", "firstParty", "identifier", "kind", "machineName", "member", "name", "newPassword", "next",
    "overlapHours", "ownerName", "password", "passwordChoice", "passwordConfirm", "passwordMaxLength",
    "passwordMinLength", "permissionDescription", "permissionName", "permissions", "phone",
    "postLogoutRedirectUris", "purpose", "q", "redirectUris", "refresh", "role", "roleDescription", "roleName",
    "scopes", "signupEnabled", "step", "tenant", "tenantId", "token", "username",
)  # fmt: skip
SCRIPT = "<script>alert(1)</script>"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HOSTILE: dict[str, list[tuple[str, str]]] = {
    "empty": [(name, "") for name in FIELDS],
    "markup": [(name, SCRIPT) for name in FIELDS] + [("key", SCRIPT), ("value", SCRIPT)],
    "long": [(name, "A" * 5000) for name in FIELDS] + [("key", "k" * 5000), ("value", "v" * 5000)],
    "numbers": [(name, "9" * 400) for name in FIELDS] + [("passwordMinLength", "-1"), ("step", "1e309")],
    "unicode": [(name, "\u202e\U0001d518\U0001d52b \U0001f4a5 \ufdfd") for name in FIELDS],
    "unpaired-properties": [("key", "a"), ("key", "b"), ("value", "1"), ("remove", "zzz")],
    "deep-json": [("key", "nested"), ("value", "[" * 100_000)],
    "json-values": [("key", "obj"), ("value", '{"a": [1, {"b": null}], "c": 1e400}'), ("key", ""), ("value", "x")],
    "repeated": [(name, value) for name in FIELDS for value in ("a", "b")],
    "roles": [("role", "superuser"), ("role", "owner"), ("access", "root"), ("passwordChoice", "none")],
}
# Forms that end the session or delete the tenant go last, so the others run signed in.
LAST = ("/logout", "/settings/delete-tenant")


def answer_type(url: str) -> tuple[str, ...]:
    """Console forms answer pages; the passkey options a page's script fetches answer JSON (`{"message"}` when
    a service refuses), or the error page when the form itself is refused (CSRF, unreadable)."""
    return ("application/json", "text/html") if url.endswith("/options") else ("text/html",)


def console_post_routes(app: FastAPI) -> list[str]:
    mount = next(route for route in app.routes if isinstance(route, Mount) and route.path == "/console")
    paths = [
        context.path
        for context in iter_route_contexts(mount.routes)
        if context.path and isinstance(context.original_route, APIRoute) and "POST" in (context.methods or ())
    ]
    return sorted(paths, key=lambda path: (path in LAST, path.endswith("/delete"), path))


@pytest.fixture
async def owner_browser(app: FastAPI, world: TenantWorld) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        page = await http.get("/console/login")
        token = CSRF.search(page.text)
        assert token is not None
        form = {
            "csrf": token.group(1),
            "tenantId": world.tenant_id,
            "identifier": world.owner.email,
            "password": PASSWORD,
        }
        assert (await http.post("/console/login", data=form)).status_code == 303
        yield http


async def test_every_console_form_survives_hostile_values(
    app: FastAPI, owner_browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    member = await world.add_member("user")
    end_user = await client.post(
        f"/api/v1/environments/{world.environment_id}/accounts",
        json={"name": "Target User", "email": "target@example.com", "username": "target"},
        headers=world.owner.auth,
    )
    assert end_user.status_code == 201, end_user.text
    organization = await client.post(
        f"/api/v1/environments/{world.environment_id}/organizations",
        json={"name": "Target Organization", "adminAccountId": end_user.json()["id"]},
        headers=world.owner.auth,
    )
    assert organization.status_code == 201, organization.text
    application = await client.post(
        f"{world.base}/environments/{world.environment_id}/clients",
        json={"purpose": "application", "name": "Target App", "redirectUris": ["https://app.example.com/cb"]},
        headers=world.owner.auth,
    )
    assert application.status_code == 201, application.text
    ids = {
        "client_pk": application.json()["id"],  # an automation client's path finds no such client: 404
        "environment_id": world.environment_id,
        "session_id": str(uuid.uuid4()),
        "organization_id": organization.json()["id"],
        "role_name": "ORG_USER",
        "permission_name": "projects:read",
        "invitation_id": str(uuid.uuid4()),  # no one's: 404
        "factor_id": str(uuid.uuid4()),  # no one's: 404
    }
    page = await owner_browser.get("/console/")
    token = CSRF.search(page.text)
    assert token is not None
    csrf = token.group(1)
    routes = console_post_routes(app)
    assert len(routes) >= 25, routes
    for path in routes:
        target = member.account_id if path.startswith("/accounts/") else end_user.json()["id"]
        url = "/console" + path.format(**ids, account_id=target)
        for name, fields in HOSTILE.items():
            body = urlencode([("csrf", csrf), *fields])
            response = await owner_browser.post(url, content=body, headers=FORM)
            where = f"{name} → POST {url}"
            assert response.status_code < 500, f"{where}: {response.status_code}\n{response.text[-2000:]}"
            assert SCRIPT not in response.text, where
            if response.status_code != 303:
                assert response.headers["content-type"].startswith(answer_type(url)), where
