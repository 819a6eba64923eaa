"""Changing a tenant account's email, phone or username: one's own needs the current password (counted like a
sign-in), a change by an owner or admin follows the role rules; the old address is told and earlier reset
links stop working. Emails are read from a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from tests.mail import SmtpServer, reset_token
from tests.support import PASSWORD, Database, Member, TenantWorld, make_settings, new_tenant

WRONG = "not my password at all"
NEW_PASSWORD = "a completely new passphrase"
VALUES = {"email": "moved-{tag}@example.com", "phone": "+1415555{n}", "username": "moved_{tag}"}


@pytest.fixture
async def mail_app(database: Database, smtp: SmtpServer) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        database,
        email_backend="smtp",
        smtp_url=f"smtp://127.0.0.1:{smtp.port}",
        lockout_free_attempts=3,
        lockout_threshold=3,
        lockout_max_delay=0,
    )
    app = create_app(settings)
    yield app
    await app.state.engine.dispose()
    app.state.hasher.close()


@pytest.fixture
async def http(mail_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mail_app, raise_app_exceptions=False, client=("203.0.113.21", 1234))
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # every request says its credentials
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as client:
        yield client


@pytest.fixture
async def world(http: httpx.AsyncClient) -> TenantWorld:
    return await new_tenant(http)


def new_value(field: str) -> str:
    return VALUES[field].format(tag=uuid.uuid4().hex[:8], n=f"{uuid.uuid4().int % 10000:04d}")


async def change(
    world: TenantWorld, target: Member, field: str, value: str, by: Member | None = None, **extra: Any
) -> httpx.Response:
    url = f"{world.base}/accounts/{target.account_id}/{field}"
    return await world.http.patch(url, json={field: value, **extra}, headers=(by or target).auth)


async def fetch(world: TenantWorld, account_id: str) -> dict[str, Any]:
    response = await world.http.get(f"{world.base}/accounts/{account_id}", headers=world.owner.auth)
    assert response.status_code == 200, response.text
    account: dict[str, Any] = response.json()
    return account


async def login_status(world: TenantWorld, password: str = PASSWORD, **identifier: str) -> int:
    url = f"/api/v1/auth/tenants/{world.tenant_id}/login"
    return (await world.http.post(url, json={**identifier, "password": password})).status_code


async def events(world: TenantWorld, **params: str) -> list[dict[str, Any]]:
    response = await world.http.get(f"{world.base}/audit-events", params=params, headers=world.owner.auth)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def text_of(message: Any) -> str:
    return str(message.get_body(("plain",)).get_content()) + str(message.get_body(("html",)).get_content())


@pytest.mark.asvs("SESS-12", "LOG-04")
async def test_own_email_change_needs_the_current_password(world: TenantWorld) -> None:
    user = await world.add_member("user")
    moved = new_value("email")

    missing = await change(world, user, "email", moved)
    assert missing.status_code == 403
    assert missing.json()["code"] == "current_password_required"
    assert set(missing.json()["errors"]) == {"currentPassword"}
    wrong = await change(world, user, "email", moved, currentPassword=WRONG)
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_password"
    assert wrong.json()["errors"] == {"currentPassword": "The current password is not correct."}
    assert WRONG not in wrong.text
    assert (await fetch(world, user.account_id))["email"] == user.email

    # With it, the change waits for the new address's link (tests/links follows it).
    right = await change(world, user, "email", moved.upper(), currentPassword=PASSWORD)
    assert right.status_code == 202
    assert (await fetch(world, user.account_id))["email"] == user.email
    assert await login_status(world, email=user.email) == 200
    assert await login_status(world, email=moved) == 401

    [changed] = await events(world, action="tenant_account.email_change_requested")
    assert (changed["actorId"], changed["targetId"]) == (user.account_id, user.account_id)
    assert moved not in str(changed), "the audit names no address"
    assert user.email not in str(changed)
    refusals = await events(world, action="tenant_account.email_change_failed")
    assert sorted(event["details"]["code"] for event in refusals) == ["current_password_required", "wrong_password"]
    assert all(event["outcome"] == "failure" and WRONG not in str(event) for event in refusals)


@pytest.mark.asvs("SESS-12")
@pytest.mark.parametrize("field", ["phone", "username"])
async def test_own_phone_and_username_changes_need_it_too(world: TenantWorld, field: str) -> None:
    user = await world.add_member("user")
    value = new_value(field)
    missing = await change(world, user, field, value)
    assert (missing.status_code, missing.json()["code"]) == (403, "current_password_required")
    wrong = await change(world, user, field, value, currentPassword=WRONG)
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    assert (await change(world, user, field, value, currentPassword=PASSWORD)).status_code == 204
    assert (await fetch(world, user.account_id))[field] == value
    assert await login_status(world, **{field: value}) == 200


@pytest.mark.asvs("SESS-12")
async def test_an_owners_own_change_needs_it_and_a_taken_address_is_not_revealed_without_it(
    world: TenantWorld,
) -> None:
    user = await world.add_member("user")
    blind = await change(world, world.owner, "email", user.email)
    assert (blind.status_code, blind.json()["code"]) == (403, "current_password_required")
    taken = await change(world, world.owner, "email", user.email, currentPassword=PASSWORD)
    assert (taken.status_code, taken.json()["code"]) == (409, "identifier_taken")
    same = await change(world, world.owner, "email", world.owner.email.upper())
    assert (same.status_code, same.json()["code"]) == (403, "current_password_required")


@pytest.mark.asvs("AUTH-08", "SESS-12", "RST-04")
async def test_old_address_is_told_and_an_earlier_reset_link_stops_working(
    world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    user = await world.add_member("user")
    auth = f"/api/v1/auth/tenants/{world.tenant_id}"
    assert (await world.http.post(f"{auth}/forgot-password", json={"email": user.email})).status_code == 200
    await mail_app.state.outbox.run_once()
    token = reset_token(smtp.inbox.wait_for(user.email))

    moved = new_value("email")  # by the owner: at once (one's own waits for the new address, tests/links)
    assert (await change(world, user, "email", moved, by=world.owner)).status_code == 204
    await mail_app.state.outbox.run_once()
    notice = smtp.inbox.wait_for(user.email, count=2)
    assert notice["Subject"] == "Your email address was changed"
    body = text_of(notice)
    assert "email address" in body
    assert token not in body, "the notice carries no token"
    assert "reset-password" not in body
    assert moved not in body, "the notice does not name the new address"
    assert smtp.inbox.to(moved) == []

    reset = await world.http.post(f"{auth}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert (reset.status_code, reset.json()["code"]) == (400, "invalid_token")
    assert await login_status(world, email=moved) == 200
    assert await login_status(world, NEW_PASSWORD, email=moved) == 401


@pytest.mark.asvs("AUTH-08")
async def test_a_phone_change_is_told_to_the_accounts_email(
    world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    user = await world.add_member("user")
    auth = f"/api/v1/auth/tenants/{world.tenant_id}"
    await world.http.post(f"{auth}/forgot-password", json={"username": user.username})
    await mail_app.state.outbox.run_once()
    token = reset_token(smtp.inbox.wait_for(user.email))

    phone = new_value("phone")
    assert (await change(world, user, "phone", phone, currentPassword=PASSWORD)).status_code == 204
    await mail_app.state.outbox.run_once()
    notice = smtp.inbox.wait_for(user.email, count=2)
    assert notice["Subject"] == "Your phone number was changed"
    assert phone not in text_of(notice)
    assert token not in text_of(notice)
    reset = await world.http.post(f"{auth}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert (reset.status_code, reset.json()["code"]) == (400, "invalid_token")


async def test_a_username_change_sends_nothing(world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer) -> None:
    user = await world.add_member("user")
    assert (await change(world, user, "username", new_value("username"), currentPassword=PASSWORD)).status_code == 204
    await mail_app.state.outbox.run_once()
    assert smtp.inbox.to(user.email) == []


@pytest.mark.asvs("AUTH-03", "SESS-12")
async def test_repeated_wrong_current_passwords_hit_the_sign_in_lockout(world: TenantWorld) -> None:
    user = await world.add_member("user")
    moved = new_value("email")
    for _ in range(3):
        wrong = await change(world, user, "email", moved, currentPassword=WRONG)
        assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    held = await change(world, user, "email", moved, currentPassword=PASSWORD)
    assert (held.status_code, held.json()["code"]) == (429, "too_many_attempts")
    assert int(held.headers["retry-after"]) >= 1
    assert await login_status(world, email=user.email) == 429, "the same lockout as signing in"
    assert (await fetch(world, user.account_id))["email"] == user.email


@pytest.mark.asvs("AC-03", "AUTH-08")
@pytest.mark.parametrize("role", ["owner", "admin"])
async def test_an_owner_or_admin_changes_a_users_email_without_a_password_and_the_old_address_is_told(
    world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer, role: str
) -> None:
    manager = world.owner if role == "owner" else await world.add_member("admin")
    user = await world.add_member("user")
    moved = new_value("email")
    assert (await change(world, user, "email", moved, by=manager)).status_code == 204
    assert await login_status(world, email=moved) == 200
    await mail_app.state.outbox.run_once()
    notice = smtp.inbox.wait_for(user.email)
    assert notice["Subject"] == "Your email address was changed"
    assert smtp.inbox.to(manager.email) == []
    [changed] = await events(world, action="tenant_account.email_changed")
    assert (changed["actorId"], changed["targetId"]) == (manager.account_id, user.account_id)


@pytest.mark.asvs("AC-03")
async def test_an_admin_cannot_change_an_owners_or_another_admins_identifiers(
    world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    admin = await world.add_member("admin")
    peer = await world.add_member("admin")
    for target in (world.owner, peer):
        before = await fetch(world, target.account_id)
        for field in ("email", "phone", "username"):
            for extra in ({}, {"currentPassword": PASSWORD}):
                refused = await change(world, target, field, new_value(field), by=admin, **extra)
                assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_role"), field
        assert await fetch(world, target.account_id) == before
    await mail_app.state.outbox.run_once()
    assert smtp.inbox.to(world.owner.email) == smtp.inbox.to(peer.email) == []


async def test_a_user_cannot_change_another_users_email_even_with_a_password(world: TenantWorld) -> None:
    user = await world.add_member("user")
    peer = await world.add_member("user")
    refused = await change(world, peer, "email", new_value("email"), by=user, currentPassword=PASSWORD)
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_role")


async def test_current_password_is_a_bounded_string_and_other_keys_are_refused(world: TenantWorld) -> None:
    user = await world.add_member("user")
    for extra in ({"currentPassword": ""}, {"currentPassword": "x" * 1025}, {"currentPassword": 12345678}):
        response = await change(world, user, "email", new_value("email"), **extra)
        assert response.status_code == 400, extra
        assert set(response.json()["errors"]) == {"currentPassword"}
    extra_key = await change(world, user, "email", new_value("email"), currentPassword=PASSWORD, role="owner")
    assert extra_key.status_code == 400
