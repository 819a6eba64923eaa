"""Tenant accounts: profile changes, and identifier changes (normalised, unique per tenant, race-safe)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.support import PASSWORD, TenantWorld
from tests.tenant_accounts.accounts import (
    account_body,
    create,
    fetch,
    login_status,
)

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
    # One's own new email waits for its verification (tests/links): the owner's change takes effect at once.
    response = await client.patch(
        f"{world.base}/accounts/{user.account_id}/{field}",
        json={field: given.format(tag=tag), "currentPassword": PASSWORD},
        headers=world.owner.auth if field == "email" else user.auth,
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
        f"{world.base}/accounts/{user.account_id}/email",
        json={"email": user.email.upper(), "currentPassword": PASSWORD},
        headers=user.auth,
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
        f"{world.base}/accounts/{user.account_id}/email",
        json={"email": other.owner.email, "currentPassword": PASSWORD},
        headers=user.auth,
    )
    assert response.status_code == 202, "free in this tenant: a link goes to it (tests/links)"


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
                f"{world.base}/accounts/{user.account_id}/username",
                json={"username": username, "currentPassword": PASSWORD},
                headers=user.auth,
            )
            for user in users
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [204, 409, 409, 409], [(r.status_code, r.text[:80]) for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {"identifier_taken", "conflict"}
    listed = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    assert [account["username"] for account in listed.json()].count(username) == 1
