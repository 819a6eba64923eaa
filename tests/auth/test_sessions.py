"""Tenant sign-in and sessions: login by each identifier, one answer for every failure, hashed tokens, the signed
cookie, fixation, tenant binding, logout, listing and revoking sessions, and idle and absolute expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.sessions.models import Session
from tests.support import PASSWORD, SECRET, TenantWorld, bearer

IDLE_TTL = timedelta(days=7)
ABSOLUTE_TTL = timedelta(days=30)
SESSION_FIELDS = {
    "id",
    "accountType",
    "accountId",
    "contextType",
    "contextId",
    "expiresAt",
    "lastActiveAt",
    "createdAt",
}
OPTIONAL_SESSION_FIELDS = {"ipAddress", "userAgent"}
COOKIE = re.compile(r"(?:^|,\s*)sump_session=([^;]*)")


def auth(tenant_id: str) -> str:
    return f"/api/v1/auth/tenants/{tenant_id}"


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"sump_session={value}"}


def set_cookie_value(response: httpx.Response) -> str:
    """The value the response sets for `sump_session` (empty when it clears it)."""
    found = COOKIE.search(response.headers.get("set-cookie", ""))
    assert found is not None, response.headers
    return found.group(1).strip('"')


def signed(token: str, secret: str = SECRET) -> str:
    """The original Sump's signed-cookie format: `s:<token>.<base64 HMAC-SHA256, unpadded>`, URL-encoded."""
    mac = base64.b64encode(hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()).decode().rstrip("=")
    return quote(f"s:{token}.{mac}", safe="")


def flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def login(http: httpx.AsyncClient, world: TenantWorld, **body: Any) -> httpx.Response:
    return await http.post(f"{auth(world.tenant_id)}/login", json={"password": PASSWORD, **body})


async def signed_in(http: httpx.AsyncClient, world: TenantWorld, **body: Any) -> dict[str, Any]:
    response = await login(http, world, **body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def current(http: httpx.AsyncClient, world: TenantWorld, headers: dict[str, str]) -> httpx.Response:
    return await http.get(f"{auth(world.tenant_id)}/session", headers=headers)


async def set_session(db: AsyncSession, session_id: str, **values: Any) -> None:
    await db.execute(update(Session).where(Session.id == uuid.UUID(session_id)).values(**values))
    await db.commit()


async def last_active(db: AsyncSession, session_id: str) -> datetime:
    value = await db.scalar(select(Session.last_active_at).where(Session.id == uuid.UUID(session_id)))
    assert value is not None
    return value


async def rows(db: AsyncSession, **where: str) -> int:
    conditions = [getattr(Session, column) == uuid.UUID(value) for column, value in where.items()]
    return int(await db.scalar(select(func.count()).select_from(Session).where(*conditions)) or 0)


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
        f"{world.base}/accounts/{member.account_id}/phone", json={"phone": "+1 415 555 0142"}, headers=member.auth
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
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header
    assert "Path=/" in header
    assert "samesite=lax" in header.lower()
    assert f"Max-Age={int(ABSOLUTE_TTL.total_seconds())}" in header
    assert "Domain" not in header
    value = set_cookie_value(response)
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
    cleared = logout.headers["set-cookie"]
    assert set_cookie_value(logout) == ""
    assert "Max-Age=0" in cleared or "expires=Thu, 01 Jan 1970" in cleared
    assert "Path=/" in cleared
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


# Listing and revoking sessions


@pytest.mark.asvs("SESS-08")
async def test_sessions_lists_the_accounts_live_sessions_and_marks_this_one(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    laptop = await signed_in(client, world, email=world.owner.email)
    phone = await signed_in(client, world, username=world.owner.username)
    member = await world.add_member("admin")

    response = await client.get(f"{auth(world.tenant_id)}/sessions", headers=bearer(phone["token"]))

    assert response.status_code == 200
    sessions = response.json()
    assert isinstance(sessions, list)
    assert len(sessions) == 3
    by_id = {session["id"]: session for session in sessions}
    assert set(by_id) >= {laptop["session"]["id"], phone["session"]["id"]}
    assert [session["id"] for session in sessions if session["current"]] == [phone["session"]["id"]]
    assert by_id[laptop["session"]["id"]]["current"] is False
    for session in sessions:
        assert session["accountId"] == world.owner.account_id
        assert SESSION_FIELDS | {"current"} <= set(session) <= SESSION_FIELDS | OPTIONAL_SESSION_FIELDS | {"current"}
    mine = await client.get(f"{auth(world.tenant_id)}/sessions", headers=member.auth)
    assert [session["accountId"] for session in mine.json()] == [member.account_id]
    assert (await client.get(f"{auth(world.tenant_id)}/sessions")).status_code == 401


@pytest.mark.asvs("SESS-08")
async def test_revoke_one_session(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    laptop = await signed_in(client, world, email=world.owner.email)
    phone = await signed_in(client, world, email=world.owner.email)
    sessions = f"{auth(world.tenant_id)}/sessions"

    revoked = await client.delete(f"{sessions}/{laptop['session']['id']}", headers=bearer(phone["token"]))

    assert revoked.status_code == 204
    assert "set-cookie" not in revoked.headers
    assert (await current(client, world, bearer(laptop["token"]))).status_code == 401
    assert await rows(db, id=laptop["session"]["id"]) == 0
    assert (await current(client, world, bearer(phone["token"]))).status_code == 200
    listed = await client.get(sessions, headers=bearer(phone["token"]))
    assert laptop["session"]["id"] not in {session["id"] for session in listed.json()}
    again = await client.delete(f"{sessions}/{laptop['session']['id']}", headers=bearer(phone["token"]))
    assert again.status_code == 404


@pytest.mark.asvs("SESS-08", "AC-02")
async def test_another_accounts_session_id_is_404(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, db: AsyncSession
) -> None:
    member = await world.add_member("user")
    victims = [
        (world, member.token, (await current(client, world, member.auth)).json()["id"]),
        (other, other.owner.token, (await current(client, other, other.owner.auth)).json()["id"]),
    ]
    for tenant, token, session_id in victims:
        response = await client.delete(f"{auth(world.tenant_id)}/sessions/{session_id}", headers=world.owner.auth)
        assert response.status_code == 404
        assert response.json()["code"] == "session_not_found"
        assert await rows(db, id=session_id) == 1
        assert (await current(client, tenant, bearer(token))).status_code == 200
    unknown = await client.delete(f"{auth(world.tenant_id)}/sessions/{uuid.uuid4()}", headers=world.owner.auth)
    assert unknown.status_code == 404
    bad = await client.delete(f"{auth(world.tenant_id)}/sessions/not-a-uuid", headers=world.owner.auth)
    assert bad.status_code == 400


@pytest.mark.asvs("SESS-04", "SESS-08")
async def test_revoking_the_current_session_clears_its_cookie(client: httpx.AsyncClient, world: TenantWorld) -> None:
    data = await signed_in(client, world, email=world.owner.email)
    response = await client.delete(
        f"{auth(world.tenant_id)}/sessions/{data['session']['id']}", headers=cookie_header(signed(data["token"]))
    )
    assert response.status_code == 204
    assert set_cookie_value(response) == ""
    assert (await current(client, world, bearer(data["token"]))).status_code == 401


@pytest.mark.asvs("SESS-08")
async def test_logout_all_revokes_every_session_of_the_account(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    tokens = [world.owner.token]
    for _ in range(3):
        tokens.append((await signed_in(client, world, email=world.owner.email))["token"])
    member = await world.add_member("admin")

    response = await client.post(f"{auth(world.tenant_id)}/logout-all", headers=cookie_header(signed(tokens[-1])))

    assert response.status_code == 200
    assert response.json() == {"revoked": 4}
    assert set_cookie_value(response) == ""
    for token in tokens:
        assert (await current(client, world, bearer(token))).status_code == 401
    assert await rows(db, account_id=world.owner.account_id) == 0
    assert (await current(client, world, member.auth)).status_code == 200
    assert (await client.post(f"{auth(world.tenant_id)}/logout-all", headers=bearer(tokens[0]))).status_code == 401


# Expiry


@pytest.mark.asvs("SESS-05")
async def test_idle_session_expires(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    idle = await signed_in(client, world, email=world.owner.email)
    other = await signed_in(client, world, email=world.owner.email)
    await set_session(db, idle["session"]["id"], last_active_at=datetime.now(UTC) - IDLE_TTL - timedelta(seconds=1))

    assert (await current(client, world, bearer(idle["token"]))).status_code == 401
    assert (await current(client, world, cookie_header(signed(idle["token"])))).status_code == 401
    listed = await client.get(f"{auth(world.tenant_id)}/sessions", headers=bearer(other["token"]))
    assert idle["session"]["id"] not in {session["id"] for session in listed.json()}
    assert (await current(client, world, bearer(other["token"]))).status_code == 200


@pytest.mark.asvs("SESS-05")
async def test_activity_within_the_idle_window_extends_it(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    data = await signed_in(client, world, email=world.owner.email)
    session_id = data["session"]["id"]
    await set_session(db, session_id, last_active_at=datetime.now(UTC) - IDLE_TTL + timedelta(minutes=5))

    response = await current(client, world, bearer(data["token"]))

    assert response.status_code == 200
    refreshed = await last_active(db, session_id)
    assert datetime.now(UTC) - refreshed < timedelta(minutes=1)
    assert when(response.json()["lastActiveAt"]) == refreshed


@pytest.mark.asvs("SESS-05")
async def test_absolute_expiry_holds_even_for_an_active_session(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    data = await signed_in(client, world, email=world.owner.email)
    session_id = data["session"]["id"]
    await set_session(db, session_id, expires_at=datetime.now(UTC) + timedelta(minutes=5))
    assert (await current(client, world, bearer(data["token"]))).status_code == 200

    await set_session(
        db,
        session_id,
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
        last_active_at=datetime.now(UTC),
    )

    assert (await current(client, world, bearer(data["token"]))).status_code == 401
    assert (await client.get(world.base, headers=bearer(data["token"]))).status_code == 401


@pytest.mark.asvs("SESS-05")
async def test_last_active_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    data = await signed_in(client, world, email=world.owner.email)
    session_id = data["session"]["id"]
    issued = await last_active(db, session_id)
    assert issued == when(data["session"]["lastActiveAt"])

    for _ in range(2):
        assert (await current(client, world, bearer(data["token"]))).status_code == 200
    assert await last_active(db, session_id) == issued

    recent = datetime.now(UTC) - timedelta(seconds=30)
    await set_session(db, session_id, last_active_at=recent)
    assert (await current(client, world, bearer(data["token"]))).status_code == 200
    assert await last_active(db, session_id) == recent

    stale = datetime.now(UTC) - timedelta(minutes=2)
    await set_session(db, session_id, last_active_at=stale)
    response = await current(client, world, bearer(data["token"]))
    assert response.status_code == 200
    refreshed = await last_active(db, session_id)
    assert refreshed > stale + timedelta(minutes=1)
    assert datetime.now(UTC) - refreshed < timedelta(minutes=1)
    assert when(response.json()["lastActiveAt"]) == refreshed
