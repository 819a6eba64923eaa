"""Tenant accounts: creation, listing, lookup, profile and identifier changes, the role hierarchy, the last owner,
and what disabling or deleting an account does to its sessions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from sump.sessions.models import Session
from sump.tenant_accounts.models import TenantAccount, TenantRole
from sump.tenants.models import Tenant
from tests.support import PASSWORD, Database, Member, TenantWorld, bearer

Attempt = tuple[str, str, dict[str, Any] | None]
SECRET_KEYS = {"password", "passwordhash", "password_hash", "tokenhash", "token_hash", "hash"}


def _keys(value: Any) -> set[str]:
    """Every object key in a JSON document, except the field names that `errors` reports."""
    if isinstance(value, dict):
        return {key.lower() for key in value} | {
            k for key, item in value.items() if key != "errors" for k in _keys(item)
        }
    if isinstance(value, list):
        return {key for item in value for key in _keys(item)}
    return set()


def assert_no_secrets(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url}"
    assert "$argon2" not in response.text, where
    assert "$2b$" not in response.text, where
    if response.content:
        assert not _keys(response.json()) & SECRET_KEYS, where


def account_body(world: TenantWorld, role: str | None = None, **overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {"name": f"Person {tag}", "email": f"person-{tag}@example.com", "username": f"p_{tag}"}
    if role is not None:
        body["roles"] = [{"role": role, "target": "tenant", "targetId": world.tenant_id}]
    body.update(overrides)
    return body


async def create(world: TenantWorld, by: Member | None = None, **body: Any) -> httpx.Response:
    response = await world.http.post(f"{world.base}/accounts", json=body, headers=(by or world.owner).auth)
    assert_no_secrets(response)
    return response


async def fetch(world: TenantWorld, account_id: str, by: Member | None = None) -> dict[str, Any]:
    response = await world.http.get(f"{world.base}/accounts/{account_id}", headers=(by or world.owner).auth)
    assert response.status_code == 200, response.text
    assert_no_secrets(response)
    data: dict[str, Any] = response.json()
    return data


async def session_status(world: TenantWorld, token: str) -> int:
    response = await world.http.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=bearer(token))
    return response.status_code


async def login_status(world: TenantWorld, password: str = PASSWORD, **identifier: str) -> int:
    response = await world.http.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login", json={**identifier, "password": password}
    )
    return response.status_code


async def session_rows(db: AsyncSession, account_id: str) -> int:
    statement = select(func.count()).select_from(Session).where(Session.account_id == uuid.UUID(account_id))
    return int(await db.scalar(statement) or 0)


async def enabled_owners(db: AsyncSession, tenant_id: str) -> list[uuid.UUID]:
    statement = select(TenantAccount.id).where(
        TenantAccount.tenant_id == uuid.UUID(tenant_id),
        TenantAccount.role == TenantRole.OWNER,
        TenantAccount.disabled.is_(False),
    )
    return list(await db.scalars(statement))


# Creating and reading


@pytest.mark.asvs("AC-07", "VAL-09")
async def test_create_with_phone_and_avatar(client: httpx.AsyncClient, world: TenantWorld) -> None:
    body = account_body(world, phone="+1 (415) 555-0123", avatarUrl="https://cdn.example.com/a.png", password=PASSWORD)
    response = await create(world, **body)

    assert response.status_code == 201
    assert set(response.json()) == {"id"}
    account = await fetch(world, response.json()["id"])
    assert account["id"] == response.json()["id"]
    assert account["tenantId"] == world.tenant_id
    assert account["name"] == body["name"]
    assert account["email"] == body["email"]
    assert account["username"] == body["username"]
    assert account["phone"] == "+14155550123"
    assert account["avatarUrl"] == "https://cdn.example.com/a.png"
    assert account["role"] == "user"
    assert account["roles"] == [{"role": "user", "target": "tenant", "targetId": world.tenant_id}]
    assert account["disabled"] is False
    assert account["emailVerified"] is False
    assert "password" not in account
    assert await login_status(world, phone="+14155550123") == 200


@pytest.mark.asvs("PWD-13", "AUTH-01")
async def test_account_without_password_cannot_log_in(client: httpx.AsyncClient, world: TenantWorld) -> None:
    body = account_body(world)
    assert (await create(world, **body)).status_code == 201

    for password in (PASSWORD, "x" * 8):
        response = await client.post(
            f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"email": body["email"], "password": password}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"
        assert "set-cookie" not in response.headers


@pytest.mark.asvs("AC-06", "VAL-09")
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"username": "a b"}, "username"),
        ({"name": "A"}, "name"),
        ({"phone": "555-0123"}, "phone"),
        ({"avatarUrl": "javascript:alert(1)"}, "avatarUrl"),
        ({"role": "owner"}, "role"),
        ({"passwordHash": "$argon2id$v=19$m=19456,t=2,p=1$x$y"}, "passwordHash"),
        ({"disabled": True}, "disabled"),
        ({"tenantId": str(uuid.uuid4())}, "tenantId"),
        ({"roles": []}, "roles"),
        ({"roles": [{"role": "emperor", "target": "tenant", "targetId": "{tenant}"}]}, "roles.0.role"),
        ({"roles": [{"role": "user", "target": "environment", "targetId": "{tenant}"}]}, "roles.0.target"),
    ],
)
async def test_create_rejects_bad_bodies(
    client: httpx.AsyncClient, world: TenantWorld, overrides: dict[str, Any], field: str
) -> None:
    body = {**account_body(world), **overrides}
    for grant in body.get("roles", []):
        grant["targetId"] = world.tenant_id
    response = await create(world, **body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.json()["errors"]
    listed = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    assert [account["id"] for account in listed.json()] == [world.owner.account_id]


@pytest.mark.asvs("AC-02", "AC-07")
async def test_get_unknown_or_foreign_account_is_404(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    unknown = await client.get(f"{world.base}/accounts/{uuid.uuid4()}", headers=world.owner.auth)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "account_not_found"
    foreign = await client.get(f"{world.base}/accounts/{other.owner.account_id}", headers=world.owner.auth)
    assert foreign.status_code == 404
    assert foreign.json() | {"requestId": None} == unknown.json() | {"requestId": None}
    elsewhere = await client.get(f"{other.base}/accounts/{other.owner.account_id}", headers=world.owner.auth)
    assert elsewhere.status_code == 404
    bad_id = await client.get(f"{world.base}/accounts/not-a-uuid", headers=world.owner.auth)
    assert bad_id.status_code == 400
    anonymous = await client.get(f"{world.base}/accounts/{world.owner.account_id}")
    assert anonymous.status_code == 401


# Listing


async def test_list_walks_every_page_once(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = [world.owner.account_id]
    for _ in range(6):
        response = await create(world, **account_body(world))
        created.append(response.json()["id"])

    seen: list[str] = []
    pages = 0
    url: str | None = f"{world.base}/accounts?limit=2"
    while url is not None:
        response = await client.get(url, headers=world.owner.auth)
        assert response.status_code == 200
        assert_no_secrets(response)
        page = response.json()
        assert isinstance(page, list)
        assert len(page) <= 2
        seen.extend(account["id"] for account in page)
        pages += 1
        link = response.links.get("next")
        url = link["url"] if link else None
        if url is not None:
            assert 'rel="next"' in response.headers["link"]
            assert "cursor=" in url
            assert "limit=2" in url
        assert pages <= 10

    assert pages == 4
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


async def test_list_with_exact_page_ends_with_an_empty_page(client: httpx.AsyncClient, world: TenantWorld) -> None:
    ids = [world.owner.account_id, (await create(world, **account_body(world))).json()["id"]]
    first = await client.get(f"{world.base}/accounts", params={"limit": 2}, headers=world.owner.auth)
    assert sorted(account["id"] for account in first.json()) == sorted(ids)
    second = await client.get(first.links["next"]["url"], headers=world.owner.auth)
    assert second.status_code == 200
    assert second.json() == []
    assert "link" not in second.headers
    everything = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    assert len(everything.json()) == 2
    assert "link" not in everything.headers


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "%%%not-base64"}, "cursor"),
        ({"cursor": "AAAA"}, "cursor"),
    ],
)
async def test_list_rejects_bad_paging(
    client: httpx.AsyncClient, world: TenantWorld, params: dict[str, Any], field: str
) -> None:
    response = await client.get(f"{world.base}/accounts", params=params, headers=world.owner.auth)
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.asvs("AC-02", "AC-08")
async def test_list_shows_only_this_tenant(client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld) -> None:
    same = account_body(world)
    assert (await create(world, **same)).status_code == 201
    assert (await create(other, **same)).status_code == 201
    mine = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    assert {account["tenantId"] for account in mine.json()} == {world.tenant_id}
    assert len(mine.json()) == 2
    theirs = await client.get(f"{other.base}/accounts", headers=world.owner.auth)
    assert theirs.status_code == 404


# Finding by identifier


async def test_find_by_identifier_in_query(client: httpx.AsyncClient, world: TenantWorld) -> None:
    body = account_body(world, phone="+44 20 7946 0958")
    account_id = (await create(world, **body)).json()["id"]
    url = f"{world.base}/accounts/user-defined-identification"

    for params in (
        {"email": body["email"].upper()},
        {"username": body["username"].upper()},
        {"phone": "+44 (20) 7946-0958"},
        {"email": body["email"], "username": body["username"]},
    ):
        response = await client.get(url, params=params, headers=world.owner.auth)
        assert response.status_code == 200, params
        assert response.json()["id"] == account_id
        assert_no_secrets(response)

    mismatch = await client.get(
        url, params={"email": body["email"], "username": world.owner.username}, headers=world.owner.auth
    )
    assert mismatch.status_code == 404
    unknown = await client.get(url, params={"email": "nobody@example.com"}, headers=world.owner.auth)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "account_not_found"
    nothing = await client.get(url, headers=world.owner.auth)
    assert nothing.status_code == 400
    invalid = await client.get(url, params={"email": "not-an-email"}, headers=world.owner.auth)
    assert invalid.status_code == 400


async def test_find_by_json_body_on_get(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """The original read the identifiers from a JSON body on GET; its clients still send that."""
    body = account_body(world)
    account_id = (await create(world, **body)).json()["id"]
    url = f"{world.base}/accounts/user-defined-identification"

    found = await client.request("GET", url, json={"email": body["email"].title()}, headers=world.owner.auth)
    assert found.status_code == 200
    assert found.json()["id"] == account_id
    by_username = await client.request("GET", url, json={"username": body["username"]}, headers=world.owner.auth)
    assert by_username.json()["id"] == account_id
    missing = await client.request("GET", url, json={"email": "nobody@example.com"}, headers=world.owner.auth)
    assert missing.status_code == 404
    for bad in ({}, {"nickname": "x"}, ["not", "an", "object"]):
        response = await client.request("GET", url, json=bad, headers=world.owner.auth)
        assert response.status_code == 400, bad
    malformed = await client.request(
        "GET", url, content=b"{not json", headers={**world.owner.auth, "content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_json"


async def test_find_does_not_cross_tenants(client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld) -> None:
    url = f"{world.base}/accounts/user-defined-identification"
    response = await client.get(url, params={"email": other.owner.email}, headers=world.owner.auth)
    assert response.status_code == 404


# Profile changes


async def test_update_name_and_avatar(client: httpx.AsyncClient, world: TenantWorld) -> None:
    account_id = (await create(world, **account_body(world))).json()["id"]
    url = f"{world.base}/accounts/{account_id}"

    response = await client.patch(url, json={"name": "Renamed Person"}, headers=world.owner.auth)
    assert response.status_code == 204
    response = await client.patch(url, json={"avatarUrl": "https://img.example.com/b.jpg"}, headers=world.owner.auth)
    assert response.status_code == 204
    account = await fetch(world, account_id)
    assert account["name"] == "Renamed Person"
    assert account["avatarUrl"] == "https://img.example.com/b.jpg"


@pytest.mark.asvs("AC-06", "VAL-01")
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "A"},
        {"name": None},
        {"avatarUrl": "ftp://example.com/a.png"},
        {"name": "Fine Name", "nickname": "x"},
        {"role": "owner"},
        {"disabled": True},
        {"email": "sneaky@example.com"},
        {"emailVerified": True},
        {"passwordHash": "x"},
        {"tenantId": str(uuid.uuid4())},
        {"createdAt": "2020-01-01T00:00:00Z"},
    ],
)
async def test_update_rejects_bad_bodies_and_changes_nothing(
    client: httpx.AsyncClient, world: TenantWorld, body: dict[str, Any]
) -> None:
    user = await world.add_member("user")
    before = await fetch(world, user.account_id)
    response = await client.patch(f"{world.base}/accounts/{user.account_id}", json=body, headers=user.auth)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_failed"
    assert await fetch(world, user.account_id) == before


# Identifier changes


@pytest.mark.asvs("VAL-02")
@pytest.mark.parametrize(
    ("field", "given", "stored"),
    [
        ("email", "New.Person@Example.COM", "new.person@example.com"),
        ("email", "\uff4eew-{tag}@example.com", "new-{tag}@example.com"),
        ("username", "MiXed_{tag}", "mixed_{tag}"),
        ("username", "Stra\u00dfe_{tag}", "strasse_{tag}"),
        ("phone", "+44 (20) 7946-0958", "+442079460958"),
    ],
)
async def test_change_identifier_normalises(
    client: httpx.AsyncClient, world: TenantWorld, field: str, given: str, stored: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    user = await world.add_member("user")
    response = await client.patch(
        f"{world.base}/accounts/{user.account_id}/{field}", json={field: given.format(tag=tag)}, headers=user.auth
    )
    assert response.status_code == 204, response.text
    account = await fetch(world, user.account_id)
    assert account[field] == stored.format(tag=tag)
    if field != "username":
        assert account[f"{field}Verified"] is False
    assert await login_status(world, **{field: given.format(tag=tag).upper()}) == 200


async def test_change_email_moves_the_login(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    response = await client.patch(
        f"{world.base}/accounts/{user.account_id}/email", json={"email": "moved@example.com"}, headers=world.owner.auth
    )
    assert response.status_code == 204
    assert await login_status(world, email="moved@example.com") == 200
    assert await login_status(world, email=user.email) == 401


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "nope"), ("username", "x"), ("username", "has space"), ("phone", "0123"), ("email", None)],
)
async def test_change_identifier_rejects_invalid_values(
    client: httpx.AsyncClient, world: TenantWorld, field: str, value: str | None
) -> None:
    user = await world.add_member("user")
    response = await client.patch(
        f"{world.base}/accounts/{user.account_id}/{field}", json={field: value}, headers=user.auth
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    extra = await client.patch(
        f"{world.base}/accounts/{user.account_id}/{field}", json={field: value, "role": "owner"}, headers=user.auth
    )
    assert extra.status_code == 400


@pytest.mark.asvs("VAL-06")
@pytest.mark.parametrize(
    ("field", "taken", "attempt"),
    [
        ("email", "taken-{tag}@example.com", "Taken-{tag}@EXAMPLE.com"),
        ("username", "taken_{tag}", "TAKEN_{tag}"),
        ("username", "stra\u00dfe_{tag}", "STRASSE_{tag}"),
        ("phone", "+14155550{n}", "+1 415 555 0{n}"),
    ],
)
async def test_duplicate_identifier_is_409_on_create_and_update(
    client: httpx.AsyncClient, world: TenantWorld, field: str, taken: str, attempt: str
) -> None:
    tag, n = uuid.uuid4().hex[:6], f"{uuid.uuid4().int % 1000:03d}"
    holder = account_body(world, **{field: taken.format(tag=tag, n=n)})
    holder_id = (await create(world, **holder)).json()["id"]
    held = (await fetch(world, holder_id))[field]

    duplicate = await create(world, **account_body(world, **{field: attempt.format(tag=tag, n=n)}))
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "identifier_taken"
    assert set(duplicate.json()["errors"]) == {field}

    user = await world.add_member("user")
    own = (await fetch(world, user.account_id))[field]
    changed = await client.patch(
        f"{world.base}/accounts/{user.account_id}/{field}",
        json={field: attempt.format(tag=tag, n=n)},
        headers=world.owner.auth,
    )
    assert changed.status_code == 409
    assert changed.json()["code"] == "identifier_taken"
    assert (await fetch(world, holder_id))[field] == held
    assert (await fetch(world, user.account_id))[field] == own


async def test_changing_to_own_identifier_is_a_no_op(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    response = await client.patch(
        f"{world.base}/accounts/{user.account_id}/email", json={"email": user.email.upper()}, headers=user.auth
    )
    assert response.status_code == 204
    assert (await fetch(world, user.account_id))["email"] == user.email


@pytest.mark.asvs("AUTH-06")
async def test_same_identifiers_in_two_tenants(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    body = account_body(world, phone="+14155550199", password=PASSWORD)
    assert (await create(world, **body)).status_code == 201
    assert (await create(other, **{**body, "password": PASSWORD + " two"})).status_code == 201
    assert await login_status(world, email=body["email"]) == 200
    assert await login_status(world, password=PASSWORD + " two", email=body["email"]) == 401
    assert await login_status(other, password=PASSWORD + " two", email=body["email"]) == 200

    user = await world.add_member("user")
    response = await client.patch(
        f"{world.base}/accounts/{user.account_id}/email", json={"email": other.owner.email}, headers=user.auth
    )
    assert response.status_code == 204


@pytest.mark.asvs("VAL-06", "VAL-01")
async def test_concurrent_creates_with_one_email_never_500(client: httpx.AsyncClient, world: TenantWorld) -> None:
    email = f"race-{uuid.uuid4().hex[:8]}@example.com"
    responses = await asyncio.gather(*(create(world, **account_body(world, email=email)) for _ in range(5)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409], [(r.status_code, r.json().get("code")) for r in responses]
    # A request that passed the check and then lost at the unique constraint answers the generic `conflict`.
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {"identifier_taken", "conflict"}
    listed = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    assert [account["email"] for account in listed.json()].count(email) == 1


@pytest.mark.asvs("VAL-06", "VAL-01")
async def test_concurrent_changes_to_one_username_never_500(client: httpx.AsyncClient, world: TenantWorld) -> None:
    username = f"race_{uuid.uuid4().hex[:8]}"
    users = [await world.add_member("user") for _ in range(4)]
    responses = await asyncio.gather(
        *(
            client.patch(
                f"{world.base}/accounts/{user.account_id}/username", json={"username": username}, headers=user.auth
            )
            for user in users
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [204, 409, 409, 409], [(r.status_code, r.text[:80]) for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {"identifier_taken", "conflict"}
    listed = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    assert [account["username"] for account in listed.json()].count(username) == 1


# Role hierarchy


@pytest.mark.asvs("AC-03")
async def test_admin_creates_users_only(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    for role in ("owner", "admin"):
        response = await create(world, by=admin, **account_body(world, role))
        assert response.status_code == 403
        assert response.json()["code"] == "role_not_grantable"
    assert (await create(world, by=admin, **account_body(world, "user"))).status_code == 201
    assert (await create(world, by=admin, **account_body(world))).status_code == 201
    accounts = (await client.get(f"{world.base}/accounts", headers=admin.auth)).json()
    assert sorted(account["role"] for account in accounts) == ["admin", "owner", "user", "user"]


@pytest.mark.asvs("AC-03")
async def test_owner_creates_any_role(client: httpx.AsyncClient, world: TenantWorld) -> None:
    for role in ("owner", "admin", "user"):
        response = await create(world, **account_body(world, role))
        assert response.status_code == 201
        assert (await fetch(world, response.json()["id"]))["role"] == role


@pytest.mark.asvs("AC-03")
async def test_admin_cannot_act_on_owner_or_admin(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    peer = await world.add_member("admin")
    for target in (world.owner, peer):
        url = f"{world.base}/accounts/{target.account_id}"
        before = await fetch(world, target.account_id)
        attempts: list[Attempt] = [
            ("PATCH", url, {"name": "Hijacked"}),
            ("PATCH", f"{url}/email", {"email": "hijack@example.com"}),
            ("PATCH", f"{url}/username", {"username": "hijacked"}),
            ("PATCH", f"{url}/phone", {"phone": "+14155550100"}),
            ("PATCH", f"{url}/role", {"role": "user"}),
            ("PATCH", f"{url}/disable", None),
            ("PATCH", f"{url}/enable", None),
            ("DELETE", url, None),
        ]
        for method, path, body in attempts:
            response = await client.request(method, path, json=body, headers=admin.auth)
            assert response.status_code == 403, (method, path)
            assert response.json()["code"] == "insufficient_role"
        assert await fetch(world, target.account_id) == before
        assert await session_status(world, target.token) == 200


@pytest.mark.asvs("AC-03")
async def test_admin_manages_users(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    admin = await world.add_member("admin")
    user = await world.add_member("user")
    url = f"{world.base}/accounts/{user.account_id}"
    assert (await client.patch(url, json={"name": "Set By Admin"}, headers=admin.auth)).status_code == 204
    assert (await client.patch(f"{url}/disable", headers=admin.auth)).status_code == 204
    assert (await client.patch(f"{url}/enable", headers=admin.auth)).status_code == 204
    assert (await client.delete(url, headers=admin.auth)).status_code == 204
    assert await db.scalar(select(TenantAccount).where(TenantAccount.id == uuid.UUID(user.account_id))) is None


@pytest.mark.asvs("AC-03")
async def test_user_cannot_call_admin_routes(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    peer = await world.add_member("user")
    url = f"{world.base}/accounts/{peer.account_id}"
    attempts: list[Attempt] = [
        ("POST", f"{world.base}/accounts", account_body(world)),
        ("PATCH", f"{url}/role", {"role": "admin"}),
        ("PATCH", f"{world.base}/accounts/{user.account_id}/role", {"role": "owner"}),
        ("PATCH", f"{url}/disable", None),
        ("PATCH", f"{url}/enable", None),
        ("DELETE", url, None),
        ("PATCH", url, {"name": "Not Yours"}),
        ("PATCH", f"{url}/email", {"email": "not-yours@example.com"}),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=user.auth)
        assert response.status_code == 403, (method, path)
    assert (await fetch(world, peer.account_id))["name"] != "Not Yours"
    assert (await fetch(world, user.account_id))["role"] == "user"
    assert len((await client.get(f"{world.base}/accounts", headers=user.auth)).json()) == 3
    own = await client.patch(f"{world.base}/accounts/{user.account_id}", json={"name": "My Own"}, headers=user.auth)
    assert own.status_code == 204


@pytest.mark.asvs("AC-03")
async def test_admin_cannot_act_on_themselves(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    url = f"{world.base}/accounts/{admin.account_id}"
    attempts: list[Attempt] = [
        ("PATCH", f"{url}/disable", None),
        ("PATCH", f"{url}/enable", None),
        ("DELETE", url, None),
        ("PATCH", f"{url}/role", {"role": "user"}),
        ("PATCH", f"{url}/role", {"role": "owner"}),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=admin.auth)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "cannot_act_on_self"
    account = await fetch(world, admin.account_id)
    assert (account["role"], account["disabled"]) == ("admin", False)
    assert await session_status(world, admin.token) == 200
    own = await client.patch(url, json={"name": "Admin Renamed"}, headers=admin.auth)
    assert own.status_code == 204


@pytest.mark.asvs("AC-05")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("DELETE", "", None), ("PATCH", "/role", {"role": "admin"}), ("PATCH", "/disable", None)],
)
async def test_sole_owner_cannot_remove_themselves(
    client: httpx.AsyncClient,
    world: TenantWorld,
    db: AsyncSession,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """A disabled owner does not count: the only enabled owner is the last one."""
    await world.add_member("admin")
    disabled_owner = await world.add_member("owner")
    disabling = await client.patch(
        f"{world.base}/accounts/{disabled_owner.account_id}/disable", headers=world.owner.auth
    )
    assert disabling.status_code == 204
    url = f"{world.base}/accounts/{world.owner.account_id}"
    before = await fetch(world, world.owner.account_id)

    response = await client.request(method, url + path, json=body, headers=world.owner.auth)

    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert await fetch(world, world.owner.account_id) == before
    assert await enabled_owners(db, world.tenant_id) == [uuid.UUID(world.owner.account_id)]
    assert await session_status(world, world.owner.token) == 200


@pytest.mark.asvs("AC-05")
async def test_owner_may_step_down_while_another_owner_remains(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    second = await world.add_member("owner")
    url = f"{world.base}/accounts/{world.owner.account_id}"
    assert (await client.patch(f"{url}/role", json={"role": "admin"}, headers=world.owner.auth)).status_code == 204
    assert (await fetch(world, world.owner.account_id))["role"] == "admin"
    assert await enabled_owners(db, world.tenant_id) == [uuid.UUID(second.account_id)]
    last = await client.patch(
        f"{world.base}/accounts/{second.account_id}/role", json={"role": "user"}, headers=second.auth
    )
    assert last.status_code == 409
    assert last.json()["code"] == "last_owner"


@pytest.mark.asvs("AC-04")
@pytest.mark.parametrize("role", ["owner", "admin", "user"])
async def test_role_naming_another_tenant_is_rejected(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, role: str
) -> None:
    body = account_body(world, password=PASSWORD)
    body["roles"] = [{"role": role, "target": "tenant", "targetId": other.tenant_id}]
    response = await create(world, **body)

    assert response.status_code == 400
    assert response.json()["code"] == "role_target_invalid"
    assert "roles.0.targetId" in response.json()["errors"]
    lookup = await client.get(
        f"{world.base}/accounts/user-defined-identification", params={"email": body["email"]}, headers=world.owner.auth
    )
    assert lookup.status_code == 404
    assert await login_status(world, email=body["email"]) == 401
    assert await login_status(other, email=body["email"]) == 401
    for path in ("", "/accounts", f"/accounts/{other.owner.account_id}"):
        assert (await client.get(f"{other.base}{path}", headers=world.owner.auth)).status_code == 404


@pytest.mark.asvs("AC-03", "AC-09")
async def test_owner_promotes_and_admin_cannot(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    user = await world.add_member("user")
    url = f"{world.base}/accounts/{user.account_id}/role"

    refused = await client.patch(url, json={"role": "admin"}, headers=admin.auth)
    assert refused.status_code == 403
    assert (await fetch(world, user.account_id))["role"] == "user"
    assert (await create(world, by=user, **account_body(world))).status_code == 403

    assert (await client.patch(url, json={"role": "admin"}, headers=world.owner.auth)).status_code == 204
    promoted = await fetch(world, user.account_id)
    assert promoted["role"] == "admin"
    assert promoted["roles"] == [{"role": "admin", "target": "tenant", "targetId": world.tenant_id}]
    assert (await create(world, by=user, **account_body(world))).status_code == 201

    assert (await client.patch(url, json={"role": "user"}, headers=world.owner.auth)).status_code == 204
    assert (await create(world, by=user, **account_body(world))).status_code == 403


async def test_owner_grants_owner(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    url = f"{world.base}/accounts/{admin.account_id}/role"
    assert (await client.patch(url, json={"role": "owner"}, headers=world.owner.auth)).status_code == 204
    assert (await fetch(world, admin.account_id))["role"] == "owner"
    demote_first_owner = await client.patch(
        f"{world.base}/accounts/{world.owner.account_id}/role", json={"role": "admin"}, headers=admin.auth
    )
    assert demote_first_owner.status_code == 204
    assert (await fetch(world, world.owner.account_id))["role"] == "admin"


@pytest.mark.parametrize("body", [{}, {"role": "emperor"}, {"role": "OWNER"}, {"role": "user", "x": 1}])
async def test_role_change_rejects_bad_bodies(
    client: httpx.AsyncClient, world: TenantWorld, body: dict[str, Any]
) -> None:
    user = await world.add_member("user")
    response = await client.patch(f"{world.base}/accounts/{user.account_id}/role", json=body, headers=world.owner.auth)
    assert response.status_code == 400
    assert (await fetch(world, user.account_id))["role"] == "user"


@pytest.mark.parametrize("action", ["role", "disable", "enable", "delete"])
async def test_unknown_or_foreign_target_is_404(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, action: str
) -> None:
    for target in (str(uuid.uuid4()), other.owner.account_id):
        url = f"{world.base}/accounts/{target}"
        if action == "delete":
            response = await client.delete(url, headers=world.owner.auth)
        else:
            body = {"role": "user"} if action == "role" else None
            response = await client.patch(f"{url}/{action}", json=body, headers=world.owner.auth)
        assert response.status_code == 404
    assert (await fetch(other, other.owner.account_id, by=other.owner))["role"] == "owner"
    assert await session_status(other, other.owner.token) == 200


# The last owner


async def test_mutual_demotion_of_two_owners_leaves_one(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """Both requests are fired at once; whichever lands first wins and the other must not leave zero owners."""
    second = await world.add_member("owner")
    responses = await asyncio.gather(
        client.patch(
            f"{world.base}/accounts/{second.account_id}/role", json={"role": "user"}, headers=world.owner.auth
        ),
        client.patch(
            f"{world.base}/accounts/{world.owner.account_id}/role", json={"role": "user"}, headers=second.auth
        ),
    )

    assert all(response.status_code < 500 for response in responses), [r.text for r in responses]
    assert sorted(r.status_code for r in responses)[0] == 204
    assert len(await enabled_owners(db, world.tenant_id)) >= 1


async def _past_the_owner_check(
    app: FastAPI, database: Database, db: AsyncSession, tenant_id: str, requests: list[Awaitable[httpx.Response]]
) -> list[httpx.Response]:
    """Runs the requests so that each has read its actor and target before any of them writes.

    The test holds a lock the requests need (the owner rows on PostgreSQL, the write lock on SQLite) until every
    request has reached its locking statement, seen through the engine's own statement events; then it lets go.
    """
    engine = app.state.engine.sync_engine
    sqlite = database.backend == "sqlite"
    waiting: set[int] = set()
    all_waiting = asyncio.Event()

    def watch(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        text = statement.lstrip().upper()
        if sqlite:
            # The first write of the request (the sliding-expiry touch of a session is not one).
            locking = text.startswith(("UPDATE", "DELETE", "INSERT")) and not text.startswith("UPDATE SESSION")
        else:
            locking = "FOR UPDATE" in text
        if locking:
            waiting.add(id(conn))
            if len(waiting) == len(requests):
                all_waiting.set()

    tenant = uuid.UUID(tenant_id)
    if sqlite:
        await db.execute(update(Tenant).where(Tenant.id == tenant).values(name=Tenant.name))
    else:
        await db.execute(select(TenantAccount.id).where(TenantAccount.tenant_id == tenant).with_for_update())
    event.listen(engine, "before_cursor_execute", watch)
    tasks = [asyncio.ensure_future(request) for request in requests]
    try:
        await asyncio.wait_for(all_waiting.wait(), timeout=20)
    finally:
        event.remove(engine, "before_cursor_execute", watch)
        await db.rollback()
        responses = await asyncio.gather(*tasks)
    return responses


@pytest.mark.asvs("AC-05", "REL-04")
@pytest.mark.parametrize("action", ["demote", "disable", "delete"])
async def test_last_owner_cannot_be_removed_even_when_two_owners_race(
    app: FastAPI,
    database: Database,
    client: httpx.AsyncClient,
    world: TenantWorld,
    db: AsyncSession,
    action: str,
) -> None:
    """Owners A and B remove each other at the same moment: both have read that two owners exist before either
    writes. The first wins; the second now targets the last enabled owner and gets 409, changing nothing."""
    second = await world.add_member("owner")

    def remove(target: Member, by: Member) -> Awaitable[httpx.Response]:
        url = f"{world.base}/accounts/{target.account_id}"
        if action == "demote":
            return client.patch(f"{url}/role", json={"role": "admin"}, headers=by.auth)
        if action == "disable":
            return client.patch(f"{url}/disable", headers=by.auth)
        return client.delete(url, headers=by.auth)

    responses = await _past_the_owner_check(
        app, database, db, world.tenant_id, [remove(second, world.owner), remove(world.owner, second)]
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [204, 409], [response.text for response in responses]
    refused = next(response for response in responses if response.status_code == 409)
    assert refused.json()["code"] == "last_owner"
    owners = await enabled_owners(db, world.tenant_id)
    assert len(owners) == 1
    survivor = next(
        member
        for member, response in ((second, responses[0]), (world.owner, responses[1]))
        if response.status_code == 409
    )
    assert owners == [uuid.UUID(survivor.account_id)]
    account = await fetch(world, survivor.account_id, by=survivor)
    assert account["role"] == "owner"
    assert account["disabled"] is False
    assert await session_status(world, survivor.token) == 200


# Disable, enable, delete


@pytest.mark.asvs("SESS-07", "AC-09", "AUTH-01")
async def test_disable_revokes_sessions_and_enable_restores_login(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user = await world.add_member("user")
    other_device = await world.login(username=user.username)
    bystander = await world.add_member("user")
    url = f"{world.base}/accounts/{user.account_id}"

    assert (await client.patch(f"{url}/disable", headers=world.owner.auth)).status_code == 204

    assert await session_status(world, user.token) == 401
    assert await session_status(world, other_device) == 401
    assert (await client.get(f"{world.base}/accounts", headers=user.auth)).status_code == 401
    assert await session_rows(db, user.account_id) == 0
    assert await session_status(world, bystander.token) == 200
    account = await fetch(world, user.account_id)
    assert account["disabled"] is True
    assert account["disabledAt"] is not None
    assert await login_status(world, username=user.username) == 401
    assert (await client.patch(f"{url}/disable", headers=world.owner.auth)).status_code == 204

    assert (await client.patch(f"{url}/enable", headers=world.owner.auth)).status_code == 204

    account = await fetch(world, user.account_id)
    assert account["disabled"] is False
    assert account["disabledAt"] is None
    assert await session_status(world, user.token) == 401
    assert await login_status(world, username=user.username) == 200


@pytest.mark.asvs("SESS-07", "REL-08")
async def test_delete_removes_account_and_sessions(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    admin = await world.add_member("admin")
    await world.login(email=admin.email)
    assert await session_rows(db, admin.account_id) == 2
    url = f"{world.base}/accounts/{admin.account_id}"

    assert (await client.delete(url, headers=world.owner.auth)).status_code == 204

    assert await session_rows(db, admin.account_id) == 0
    assert await db.scalar(select(TenantAccount).where(TenantAccount.id == uuid.UUID(admin.account_id))) is None
    assert await session_status(world, admin.token) == 401
    assert (await client.get(url, headers=world.owner.auth)).status_code == 404
    assert (await client.delete(url, headers=world.owner.auth)).status_code == 404
    assert await login_status(world, email=admin.email) == 401
    assert (await create(world, **account_body(world, email=admin.email))).status_code == 201


@pytest.mark.asvs("AC-07")
async def test_no_response_carries_a_password_hash(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    base = f"{world.base}/accounts"
    responses = [
        await client.get(base, headers=world.owner.auth),
        await client.get(f"{base}/{user.account_id}", headers=user.auth),
        await client.get(f"{base}/user-defined-identification", params={"email": user.email}, headers=user.auth),
        await client.post(base, json=account_body(world, password=PASSWORD), headers=world.owner.auth),
        await client.post(
            base, json=account_body(world, email=user.email, password=PASSWORD), headers=world.owner.auth
        ),
        await client.post(
            f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"email": user.email, "password": PASSWORD}
        ),
    ]
    for response in responses:
        assert_no_secrets(response)
        assert PASSWORD not in response.text
