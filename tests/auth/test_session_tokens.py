"""Tenant session tokens: hashed storage, the signed cookie, fixation, tenant binding, and logging out."""

from __future__ import annotations

import base64
import hashlib
import uuid
from urllib.parse import quote, unquote

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.sessions import Session
from tests.auth.tenant_sessions import (
    ABSOLUTE_TTL,
    auth,
    cookie_header,
    current,
    flip,
    login,
    rows,
    set_cookie_value,
    signed,
    signed_in,
)
from tests.support import PASSWORD, TenantWorld, bearer, set_cookies

# Tokens and the cookie


@pytest.mark.asvs("SESS-01")
async def test_only_the_sha256_of_the_token_is_stored(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    data = await signed_in(client, world, username=world.owner.username)
    token = data["token"]
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 32

    row = await db.scalar(select(Session).where(Session.id == uuid.UUID(data["session"]["id"])))
    assert row is not None
    assert row.token_hash == hashlib.sha256(token.encode()).digest()
    assert len(row.token_hash) == 32
    assert token.encode() not in row.token_hash
    for column in Session.__table__.columns:
        assert token not in str(getattr(row, column.key)), column.key
    assert await db.scalar(select(func.count()).select_from(Session).where(Session.token_hash == token.encode())) == 0


@pytest.mark.asvs("SESS-02", "SESS-03")
async def test_cookie_from_login_signs_in_and_tampering_is_refused(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    response = await login(client, world, email=world.owner.email)
    token = response.json()["token"]
    session_id = response.json()["session"]["id"]
    cookies = set_cookies(response)
    assert all(one.domain is None for one in cookies.values()), cookies
    cookie = cookies["sump_session"]
    assert cookie.httponly
    assert cookie.path == "/"
    assert cookie.samesite == "lax"
    assert cookie.max_age == int(ABSOLUTE_TTL.total_seconds())
    value = cookie.value
    assert value == signed(token)

    accepted = await current(client, world, cookie_header(value))
    assert accepted.status_code == 200
    assert accepted.json()["id"] == session_id
    assert (await current(client, world, bearer(token))).status_code == 200

    raw = unquote(value)
    body, mac = raw[2:].rsplit(".", 1)
    forged = [
        quote(f"s:{flip(body, 10)}.{mac}", safe=""),
        quote(f"s:{body}.{flip(mac, 5)}", safe=""),
        quote(f"s:{body}.{flip(mac, len(mac) - 1)}", safe=""),
        quote(f"s:{body}.", safe=""),
        quote(f"s:{body}", safe=""),
        token,
        signed(token, secret="another-secret-that-is-long-enough-0123456789"),
        signed(flip(token, 0)),
    ]
    for cookie in forged:
        refused = await current(client, world, cookie_header(cookie))
        assert refused.status_code == 401, cookie
        assert refused.json()["code"] == "unauthenticated"
    assert (await current(client, world, cookie_header(value))).status_code == 200


@pytest.mark.asvs("AUTH-05")
async def test_login_with_an_existing_cookie_issues_a_new_token_and_revokes_the_old(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    first = await login(client, world, email=world.owner.email)
    old_cookie, old_token = set_cookie_value(first), first.json()["token"]

    second = await client.post(
        f"{auth(world.tenant_id)}/login",
        json={"email": world.owner.email, "password": PASSWORD},
        headers=cookie_header(old_cookie),
    )

    assert second.status_code == 200
    new_token = second.json()["token"]
    assert new_token != old_token
    assert set_cookie_value(second) == signed(new_token)
    assert second.json()["session"]["id"] != first.json()["session"]["id"]
    assert (await current(client, world, cookie_header(old_cookie))).status_code == 401
    assert (await current(client, world, bearer(old_token))).status_code == 401
    assert await rows(db, id=first.json()["session"]["id"]) == 0
    assert (await current(client, world, bearer(new_token))).status_code == 200


@pytest.mark.asvs("AUTH-05")
async def test_planted_cookie_is_not_adopted_at_login(client: httpx.AsyncClient, world: TenantWorld) -> None:
    planted = "attacker-chosen-session-value-0123456789abcd"
    response = await client.post(
        f"{auth(world.tenant_id)}/login",
        json={"email": world.owner.email, "password": PASSWORD},
        headers=cookie_header(signed(planted)),
    )
    assert response.status_code == 200
    assert response.json()["token"] != planted
    assert set_cookie_value(response) != signed(planted)
    assert (await current(client, world, cookie_header(signed(planted)))).status_code == 401


@pytest.mark.asvs("SESS-09")
async def test_session_is_bound_to_its_tenant(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    data = await signed_in(client, world, email=world.owner.email)
    token, cookie = data["token"], signed(data["token"])
    foreign = auth(other.tenant_id)

    for headers in (bearer(token), cookie_header(cookie)):
        assert (await client.get(f"{foreign}/session", headers=headers)).status_code == 401
        assert (await client.get(f"{foreign}/sessions", headers=headers)).status_code == 401
        assert (await client.post(f"{foreign}/logout-all", headers=headers)).status_code == 401
        revoke = await client.delete(f"{foreign}/sessions/{data['session']['id']}", headers=headers)
        assert revoke.status_code == 401
        assert (await client.get(other.base, headers=headers)).status_code == 404
        assert (await client.post(f"{foreign}/logout", headers=headers)).status_code == 204
    assert (await current(client, world, bearer(token))).status_code == 200
    assert (await current(client, other, other.owner.auth)).status_code == 200


# Logging out


@pytest.mark.asvs("SESS-04")
async def test_logout_clears_the_cookie_and_the_old_cookie_is_dead(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    response = await login(client, world, email=world.owner.email)
    cookie, session_id = set_cookie_value(response), response.json()["session"]["id"]

    logout = await client.post(f"{auth(world.tenant_id)}/logout", headers=cookie_header(cookie))

    assert logout.status_code == 204
    assert logout.content == b""
    cleared = set_cookies(logout)["sump_session"]
    assert cleared.value == ""
    assert cleared.clears
    assert cleared.path == "/"
    assert (await current(client, world, cookie_header(cookie))).status_code == 401
    assert (await current(client, world, bearer(response.json()["token"]))).status_code == 401
    assert await rows(db, id=session_id) == 0
    assert (await current(client, world, world.owner.auth)).status_code == 200


@pytest.mark.asvs("SESS-04")
async def test_logout_with_bearer_ends_that_session(client: httpx.AsyncClient, world: TenantWorld) -> None:
    token = (await signed_in(client, world, email=world.owner.email))["token"]
    assert (await client.post(f"{auth(world.tenant_id)}/logout", headers=bearer(token))).status_code == 204
    assert (await current(client, world, bearer(token))).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{}, cookie_header("garbage"), cookie_header(signed("no-such-session")), bearer("no-such-session")],
)
async def test_logout_without_a_live_session_is_204(
    client: httpx.AsyncClient, world: TenantWorld, headers: dict[str, str]
) -> None:
    response = await client.post(f"{auth(world.tenant_id)}/logout", headers=headers)
    assert response.status_code == 204
    assert set_cookie_value(response) == ""
    assert (await current(client, world, world.owner.auth)).status_code == 200
