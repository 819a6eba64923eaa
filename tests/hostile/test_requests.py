"""Hostile requests, on SQLite and PostgreSQL: JSON nested deeper than any parser recursion, a NUL in a role name
in the path, and the console's setup wizard with a Unicode digit as its step or identifiers padded with spaces.
Each answers below 500 with a stable code (the console: an HTML page), and changes nothing it should not."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.console.test_forms import csrf_of
from tests.support import PASSWORD, TenantWorld

DEEP_BODIES = [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 5_000 + b"]" * 5_000]
JSON = {"Content-Type": "application/json"}


def assert_problem(response: httpx.Response, status: int, *codes: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["code"] in codes, body
    return body


@pytest.mark.asvs("VAL-01")
@pytest.mark.parametrize("body", DEEP_BODIES, ids=["arrays", "objects", "balanced"])
async def test_deep_json_on_user_defined_identification_is_malformed(
    client: httpx.AsyncClient, world: TenantWorld, body: bytes
) -> None:
    response = await client.request(
        "GET", f"{world.base}/accounts/user-defined-identification", content=body, headers={**world.owner.auth, **JSON}
    )
    assert_problem(response, 400, "malformed_json")


@pytest.mark.asvs("VAL-01")
async def test_deep_json_on_any_body_is_a_400(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user()
    targets = [
        ("POST", "/api/v1/tenants", {}),
        ("POST", f"/api/v1/auth/environments/{user.environment_id}/signup", {}),
        ("POST", f"/api/v1/auth/tenants/{world.tenant_id}/login", {}),
        ("PATCH", f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/custom-property", user.auth),
        ("PATCH", f"{world.base}/custom-property", world.owner.auth),
    ]
    for method, path, auth in targets:
        for body in DEEP_BODIES:
            response = await client.request(method, path, content=body, headers={**auth, **JSON})
            assert_problem(response, 400, "malformed_json")


# A lone surrogate: no character, with no UTF-8 form for a hash, the database or a log to take. `json.dumps`
# writes it as JSON's `\\ud800` escape, which parsers read back into the same string.
LONE = "\ud800"


@pytest.mark.asvs("VAL-01")
async def test_a_lone_surrogate_in_any_field_is_a_400_naming_it_and_changes_nothing(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user()
    account = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    signup = {"name": "Lone One", "email": "lone@example.com", "username": "lone_one", "password": PASSWORD}
    tenant_login = f"/api/v1/auth/tenants/{world.tenant_id}/login"
    cases: list[tuple[str, dict[str, str], dict[str, object], str]] = [
        (tenant_login, {}, {"username": world.owner.username, "password": LONE}, "password"),
        (f"{user.auth_base}/login", {}, {"username": user.username, "password": PASSWORD + LONE}, "password"),
        (f"{user.auth_base}/login", {}, {"username": user.username + LONE, "password": PASSWORD}, "username"),
        (f"{user.auth_base}/signup", {}, {**signup, "name": "Lone " + LONE}, "name"),
        (f"{user.auth_base}/signup", {}, {**signup, "password": PASSWORD + LONE}, "password"),
        (f"{user.auth_base}/forgot-password", {}, {"email": f"a{LONE}@example.com"}, "email"),
        ("/api/v1/tenants", {}, {"tenant": {"name": "T" + LONE}, "account": {}}, "tenant.name"),
        (
            f"{user.auth_base}/change-password",
            user.auth,
            {"currentPassword": LONE, "newPassword": PASSWORD + "!"},
            "currentPassword",
        ),
    ]
    before = await client.get(account, headers=user.auth)
    for path, auth, body, field in cases:
        response = await client.post(path, content=json.dumps(body), headers={**auth, **JSON})
        problem = assert_problem(response, 400, "validation_failed")
        assert field in problem["errors"], (path, problem)  # type: ignore[operator]
        assert "ud800" not in response.text
    properties = f"{account}/custom-property"
    for value in ({"colour": LONE}, {"deep": [{"a": LONE}]}):
        response = await client.patch(properties, content=json.dumps(value), headers={**user.auth, **JSON})
        assert "surrogate" in assert_problem(response, 400, "custom_property_value_invalid")["detail"]  # type: ignore[operator]
    response = await client.patch(properties, content=json.dumps({"x" + LONE: 1}), headers={**user.auth, **JSON})
    assert_problem(response, 400, "validation_failed")
    assert (await client.get(account, headers=user.auth)).json() == before.json()
    assert (await client.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 200


@pytest.mark.asvs("VAL-01")
@pytest.mark.parametrize("name", ["a%00b", "%00", "ORG_USER%00", "x%C2%A0y", "%F0%9F%92%A5"])
async def test_a_role_name_no_role_can_have_is_refused_in_the_path(
    client: httpx.AsyncClient, world: TenantWorld, name: str
) -> None:
    roles = f"{world.base}/environments/{world.environment_id}/roles"
    before = await client.get(roles, headers=world.owner.auth)
    assert before.status_code == 200
    changed = await client.patch(f"{roles}/{name}", json={"description": "changed"}, headers=world.owner.auth)
    assert_problem(changed, 400, "validation_failed")
    assert list(changed.json()["errors"]) == ["roleName"]
    deleted = await client.delete(f"{roles}/{name}", headers=world.owner.auth)
    assert_problem(deleted, 400, "validation_failed")
    after = await client.get(roles, headers=world.owner.auth)
    assert after.json() == before.json()


# --------------------------------------------------------------------------------------------- the wizard


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.33", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http


def wizard(tag: str, **fields: str) -> dict[str, str]:
    return {
        "name": f"Acme {tag}",
        "ownerName": f"Owner {tag}",
        "email": f"owner-{tag}@example.com",
        "username": f"owner_{tag}",
        "password": PASSWORD,
        "passwordConfirm": PASSWORD,
        "environmentName": "",
        **fields,
    }


@pytest.mark.asvs("VAL-01")
@pytest.mark.parametrize("step", ["\u00b2", "\u0663", "\u2463", "\uff13", "\U0001d7d0", "1\u00b2"])
async def test_a_unicode_digit_as_the_wizard_step_is_a_page(browser: httpx.AsyncClient, step: str) -> None:
    for action in ("next", "back", "create"):
        form = {"csrf": await csrf_of(browser, "/console/setup"), "step": step, "action": action}
        response = await browser.post("/console/setup", data={**form, **wizard(uuid.uuid4().hex[:8])})
        # Only ASCII digits count: anything else is the first step, whose next page is the owner's.
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert ("Tenant name" if action == "back" else "Full name") in response.text


@pytest.mark.asvs("VAL-01")
async def test_padded_identifiers_in_the_wizard_are_trimmed(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    tag = uuid.uuid4().hex[:8]
    username = f"ab_{tag}_cdefgh"[:20]  # 20 characters: the most a username may have
    fields = wizard(
        tag, email=f"   owner-{tag}@example.com \t", username=f"  {username}  ", ownerName=f"  Owner {tag} "
    )
    for step in ("1", "2"):
        page = await browser.post(
            "/console/setup", data={"csrf": await csrf_of(browser, "/console/setup"), "step": step, **fields}
        )
        assert page.status_code == 200, page.text
    form = {"csrf": await csrf_of(browser, "/console/setup"), "step": "3", "action": "create", **fields}
    created = await browser.post("/console/setup", data=form)
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/console/"
    dashboard = await browser.get("/console/")
    assert dashboard.status_code == 200
    tenant_id = browser.cookies["sump_console_tenant"]
    for identifier in ({"username": username}, {"email": f"owner-{tag}@example.com"}):
        signed_in = await client.post(
            f"/api/v1/auth/tenants/{tenant_id}/login", json={**identifier, "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text


@pytest.mark.asvs("VAL-01")
async def test_a_growing_username_in_the_wizard_is_a_message_on_its_field(browser: httpx.AsyncClient) -> None:
    fields = wizard(uuid.uuid4().hex[:8], username="\u3316" * 11)
    for step in ("2", "3"):
        form = {"csrf": await csrf_of(browser, "/console/setup"), "step": step, "action": "create", **fields}
        response = await browser.post("/console/setup", data=form)
        assert response.status_code == 400, response.text
        assert "at most 64 characters once normalised" in response.text
