"""Tenant sign-in: login by each identifier, one answer for every failure, and login only in the account's own
tenant."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.auth.tenant_sessions import (
    ABSOLUTE_TTL,
    OPTIONAL_SESSION_FIELDS,
    SESSION_FIELDS,
    auth,
    current,
    login,
    signed_in,
    when,
)
from tests.support import PASSWORD, TenantWorld, bearer

# Signing in


async def test_login_by_email_returns_account_session_and_token(client: httpx.AsyncClient, world: TenantWorld) -> None:
    before = datetime.now(UTC)
    response = await client.post(
        f"{auth(world.tenant_id)}/login",
        json={"email": world.owner.email, "password": PASSWORD},
        headers={"User-Agent": "SumpTests/1.0"},
    )

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"accountId", "session", "token"}
    assert data["accountId"] == world.owner.account_id
    session = data["session"]
    assert SESSION_FIELDS <= set(session) <= SESSION_FIELDS | OPTIONAL_SESSION_FIELDS
    assert session["accountType"] == "tenant_account"
    assert session["accountId"] == world.owner.account_id
    assert session["contextType"] == "tenant"
    assert session["contextId"] == world.tenant_id
    assert session["ipAddress"] == "203.0.113.7"
    assert session["userAgent"] == "SumpTests/1.0"
    created = when(session["createdAt"])
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC) + timedelta(seconds=1)
    assert when(session["lastActiveAt"]) == created
    assert abs(when(session["expiresAt"]) - created - ABSOLUTE_TTL) < timedelta(seconds=1)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", data["token"])
    assert data["token"] != world.owner.token

    me = await current(client, world, bearer(data["token"]))
    assert me.status_code == 200
    assert me.json()["id"] == session["id"]
    assert "current" not in me.json()


async def test_login_by_username_and_email_ignores_case(client: httpx.AsyncClient, world: TenantWorld) -> None:
    for identifier in (
        {"username": world.owner.username.upper()},
        {"username": world.owner.username.title()},
        {"email": world.owner.email.upper()},
    ):
        data = await signed_in(client, world, **identifier)
        assert data["accountId"] == world.owner.account_id


async def test_login_by_phone(client: httpx.AsyncClient, world: TenantWorld) -> None:
    member = await world.add_member("user")
    changed = await client.patch(
        f"{world.base}/accounts/{member.account_id}/phone",
        json={"phone": "+1 415 555 0142", "currentPassword": PASSWORD},
        headers=member.auth,
    )
    assert changed.status_code == 204
    for phone in ("+14155550142", "+1 (415) 555-0142"):
        data = await signed_in(client, world, phone=phone)
        assert data["accountId"] == member.account_id


@pytest.mark.parametrize(
    "body",
    [
        {"password": PASSWORD},
        {"email": None, "username": None, "phone": None, "password": PASSWORD},
        {"email": "owner@example.com"},
        {"email": "owner@example.com", "password": ""},
        {"email": "not-an-email", "password": PASSWORD},
        {"phone": "12", "password": PASSWORD},
        {"username": "owner", "password": PASSWORD, "remember": True},
        {},
    ],
)
async def test_login_without_a_usable_identifier_is_400(
    client: httpx.AsyncClient, world: TenantWorld, body: dict[str, Any]
) -> None:
    response = await client.post(f"{auth(world.tenant_id)}/login", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert "set-cookie" not in response.headers


async def test_login_with_malformed_json_is_400(client: httpx.AsyncClient, world: TenantWorld) -> None:
    response = await client.post(
        f"{auth(world.tenant_id)}/login", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


async def test_login_to_unknown_tenant_is_404(client: httpx.AsyncClient, world: TenantWorld) -> None:
    response = await client.post(
        f"{auth(str(uuid.uuid4()))}/login", json={"email": world.owner.email, "password": PASSWORD}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "tenant_not_found"
    not_an_id = await client.post(f"{auth('acme')}/login", json={"email": world.owner.email, "password": PASSWORD})
    assert not_an_id.status_code == 400


@pytest.mark.asvs("AUTH-01", "PWD-13", "SESS-07")
async def test_every_failed_login_gives_the_same_answer(client: httpx.AsyncClient, world: TenantWorld) -> None:
    accounts = f"{world.base}/accounts"
    no_password = f"nopw-{uuid.uuid4().hex[:8]}@example.com"
    created = await client.post(
        accounts,
        json={"name": "No Password", "email": no_password, "username": f"nopw_{uuid.uuid4().hex[:8]}"},
        headers=world.owner.auth,
    )
    assert created.status_code == 201
    disabled = await world.add_member("user")
    assert (
        await client.patch(f"{accounts}/{disabled.account_id}/disable", headers=world.owner.auth)
    ).status_code == 204

    attempts = {
        "unknown account": {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
        "wrong password": {"email": world.owner.email, "password": "not the right passphrase"},
        "no password": {"email": no_password, "password": PASSWORD},
        "disabled": {"email": disabled.email, "password": PASSWORD},
    }
    answers = {}
    for case, body in attempts.items():
        response = await client.post(f"{auth(world.tenant_id)}/login", json=body)
        assert response.status_code == 401, case
        assert "set-cookie" not in response.headers, case
        payload = response.json()
        assert payload.pop("requestId")
        headers = {name: value for name, value in response.headers.items() if name not in {"date", "x-request-id"}}
        answers[case] = (payload, headers)

    first = answers["unknown account"]
    assert first[0]["code"] == "invalid_credentials"
    for case, answer in answers.items():
        assert answer == first, case


@pytest.mark.asvs("AUTH-06")
async def test_login_only_in_the_accounts_own_tenant(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    response = await login(client, other, email=world.owner.email)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert (await login(client, world, email=world.owner.email)).status_code == 200
