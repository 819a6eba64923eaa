"""Changing an end user's email, phone or username: their own change needs their current password (counted
like a sign-in); the tenant's owners and admins change it without one, through the API or the console (the
same service). The old address is told and earlier reset links stop working. Emails are read from a real
SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from tests.mail import SmtpServer, reset_token
from tests.support import PASSWORD, Database, EndUser, Member, TenantWorld, make_settings, new_tenant

WRONG = "not my password at all"
NEW_PASSWORD = "a completely new passphrase"
VALUES = {"email": "moved-{tag}@example.com", "phone": "+1415555{n}", "username": "moved_{tag}"}
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


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
    transport = httpx.ASGITransport(app=mail_app, raise_app_exceptions=False, client=("203.0.113.22", 1234))
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # every request says its credentials
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as client:
        yield client


@pytest.fixture
async def world(http: httpx.AsyncClient) -> TenantWorld:
    return await new_tenant(http)


def new_value(field: str) -> str:
    return VALUES[field].format(tag=uuid.uuid4().hex[:8], n=f"{uuid.uuid4().int % 10000:04d}")


def url_of(user: EndUser, field: str = "") -> str:
    return f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}" + (f"/{field}" if field else "")


async def change(
    world: TenantWorld, user: EndUser, field: str, value: str, by: Member | None = None, **extra: Any
) -> httpx.Response:
    return await world.http.patch(url_of(user, field), json={field: value, **extra}, headers=(by or user).auth)


async def fetch(world: TenantWorld, user: EndUser) -> dict[str, Any]:
    response = await world.http.get(url_of(user), headers=world.owner.auth)
    assert response.status_code == 200, response.text
    account: dict[str, Any] = response.json()
    return account


async def login_status(world: TenantWorld, user: EndUser, password: str = PASSWORD, **identifier: str) -> int:
    return (await world.http.post(f"{user.auth_base}/login", json={**identifier, "password": password})).status_code


async def events(world: TenantWorld, **params: str) -> list[dict[str, Any]]:
    response = await world.http.get(f"{world.base}/audit-events", params=params, headers=world.owner.auth)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def text_of(message: Any) -> str:
    return str(message.get_body(("plain",)).get_content()) + str(message.get_body(("html",)).get_content())


async def forgot(world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer, user: EndUser) -> str:
    response = await world.http.post(f"{user.auth_base}/forgot-password", json={"username": user.username})
    assert response.status_code == 200
    await mail_app.state.outbox.run_once()
    return reset_token(smtp.inbox.wait_for(user.email))


@pytest.mark.asvs("SESS-12", "LOG-04")
async def test_own_email_change_needs_the_current_password(world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    moved = new_value("email")

    missing = await change(world, user, "email", moved)
    assert missing.status_code == 403
    assert missing.json()["code"] == "current_password_required"
    assert set(missing.json()["errors"]) == {"currentPassword"}
    wrong = await change(world, user, "email", moved, currentPassword=WRONG)
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_password"
    assert WRONG not in wrong.text
    assert (await fetch(world, user))["email"] == user.email

    # With it, the change waits for the new address's link (tests/links follows it).
    right = await change(world, user, "email", moved, currentPassword=PASSWORD)
    assert right.status_code == 202
    assert (await fetch(world, user))["email"] == user.email
    assert await login_status(world, user, email=user.email) == 200
    assert await login_status(world, user, email=moved) == 401

    [changed] = await events(world, action="end_user.email_change_requested")
    assert (changed["actorId"], changed["targetId"]) == (user.account_id, user.account_id)
    assert moved not in str(changed), "the audit names no address"
    assert user.email not in str(changed)
    refusals = await events(world, action="end_user.email_change_failed")
    assert sorted(event["details"]["code"] for event in refusals) == ["current_password_required", "wrong_password"]


@pytest.mark.asvs("SESS-12")
@pytest.mark.parametrize("field", ["phone", "username"])
async def test_own_phone_and_username_changes_need_it_too(world: TenantWorld, field: str) -> None:
    user = await world.add_end_user(world.environment_id)
    value = new_value(field)
    missing = await change(world, user, field, value)
    assert (missing.status_code, missing.json()["code"]) == (403, "current_password_required")
    wrong = await change(world, user, field, value, currentPassword=WRONG)
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    assert (await change(world, user, field, value, currentPassword=PASSWORD)).status_code == 204
    assert (await fetch(world, user))[field] == value
    assert await login_status(world, user, **{field: value}) == 200


async def test_a_profile_patch_cannot_carry_an_identifier(world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    for body in ({"email": new_value("email")}, {"name": "New Name", "phone": new_value("phone")}):
        response = await world.http.patch(url_of(user), json=body, headers=user.auth)
        assert response.status_code == 400, body
    assert (await fetch(world, user))["email"] == user.email


@pytest.mark.asvs("AUTH-08", "SESS-12", "RST-04")
async def test_old_address_is_told_and_an_earlier_reset_link_stops_working(
    world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    user = await world.add_end_user(world.environment_id)
    token = await forgot(world, mail_app, smtp, user)

    moved = new_value("email")  # by the owner: at once (an end user's own waits for the new address, tests/links)
    assert (await change(world, user, "email", moved, by=world.owner)).status_code == 204
    await mail_app.state.outbox.run_once()
    notice = smtp.inbox.wait_for(user.email, count=2)
    assert notice["To"] == user.email
    assert notice["Subject"] == "Your email address was changed"
    body = text_of(notice)
    assert token not in body, "the notice carries no token"
    assert "reset-password" not in body
    assert moved not in body
    assert smtp.inbox.to(moved) == []

    reset = await world.http.post(
        f"{user.auth_base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD}
    )
    assert (reset.status_code, reset.json()["code"]) == (400, "invalid_token")
    assert await login_status(world, user, email=moved) == 200


@pytest.mark.asvs("AUTH-08")
async def test_a_phone_change_is_told_to_the_email_and_ends_earlier_reset_links(
    world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    user = await world.add_end_user(world.environment_id)
    token = await forgot(world, mail_app, smtp, user)
    phone = new_value("phone")
    assert (await change(world, user, "phone", phone, currentPassword=PASSWORD)).status_code == 204
    await mail_app.state.outbox.run_once()
    notice = smtp.inbox.wait_for(user.email, count=2)
    assert notice["Subject"] == "Your phone number was changed"
    assert phone not in text_of(notice)
    assert token not in text_of(notice)
    reset = await world.http.post(
        f"{user.auth_base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD}
    )
    assert (reset.status_code, reset.json()["code"]) == (400, "invalid_token")


@pytest.mark.asvs("AUTH-03", "SESS-12")
async def test_repeated_wrong_current_passwords_hit_the_sign_in_lockout(world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    moved = new_value("email")
    for _ in range(3):
        wrong = await change(world, user, "email", moved, currentPassword=WRONG)
        assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    held = await change(world, user, "email", moved, currentPassword=PASSWORD)
    assert (held.status_code, held.json()["code"]) == (429, "too_many_attempts")
    assert int(held.headers["retry-after"]) >= 1
    assert await login_status(world, user, email=user.email) == 429, "the same lockout as signing in"
    assert (await fetch(world, user))["email"] == user.email


@pytest.mark.asvs("AC-03", "AUTH-08")
@pytest.mark.parametrize("role", ["owner", "admin"])
async def test_an_owner_or_admin_changes_an_end_users_email_and_the_old_address_is_told(
    world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer, role: str
) -> None:
    manager = world.owner if role == "owner" else await world.add_member("admin")
    user = await world.add_end_user(world.environment_id)
    token = await forgot(world, mail_app, smtp, user)
    moved = new_value("email")
    assert (await change(world, user, "email", moved, by=manager)).status_code == 204
    assert await login_status(world, user, email=moved) == 200
    await mail_app.state.outbox.run_once()
    assert smtp.inbox.wait_for(user.email, count=2)["Subject"] == "Your email address was changed"
    reset = await world.http.post(
        f"{user.auth_base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD}
    )
    assert (reset.status_code, reset.json()["code"]) == (400, "invalid_token")
    [changed] = await events(world, action="end_user.email_changed")
    assert (changed["actorId"], changed["targetId"]) == (manager.account_id, user.account_id)


async def test_changes_that_mail_an_end_user_are_a_few_an_hour_whoever_makes_them(world: TenantWorld) -> None:
    """An admin can give an end user any address, then change its phone or email again and again: each change
    mails that address in Sump's name, with the end user's name in the text. Five an hour per account; the
    sixth is refused before anything changes (on even with per-IP limits off), a username change goes on."""
    user = await world.add_end_user(world.environment_id)
    for field in ("phone", "phone", "email", "phone", "phone"):
        assert (await change(world, user, field, new_value(field), by=world.owner)).status_code == 204
    before = await fetch(world, user)
    refused = await change(world, user, "phone", new_value("phone"), by=world.owner)
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert (await fetch(world, user))["phone"] == before["phone"]
    assert (await change(world, user, "username", new_value("username"), by=world.owner)).status_code == 204
    other = await world.add_end_user(world.environment_id)
    assert (await change(world, other, "phone", new_value("phone"), by=world.owner)).status_code == 204


@pytest.mark.asvs("AC-03")
async def test_a_tenant_user_cannot_change_an_end_users_identifiers(
    world: TenantWorld, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    reader = await world.add_member("user")
    user = await world.add_end_user(world.environment_id)
    for field in ("email", "phone", "username"):
        refused = await change(world, user, field, new_value(field), by=reader, currentPassword=PASSWORD)
        assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_role")
    other = await world.add_end_user(world.environment_id)
    hidden = await world.http.patch(
        url_of(other, "email"), json={"email": new_value("email"), "currentPassword": PASSWORD}, headers=user.auth
    )
    assert hidden.status_code == 404
    await mail_app.state.outbox.run_once()
    assert smtp.inbox.to(user.email) == smtp.inbox.to(other.email) == []


@pytest.fixture
async def browser(mail_app: FastAPI, world: TenantWorld) -> AsyncIterator[httpx.AsyncClient]:
    """The owner signed in to the console (cookies kept, like a browser)."""
    transport = httpx.ASGITransport(app=mail_app, raise_app_exceptions=False, client=("203.0.113.23", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as client:
        csrf = CSRF.search((await client.get("/console/login")).text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "tenantId": world.tenant_id, "identifier": world.owner.email}
        assert (await client.post("/console/login", data={**form, "password": PASSWORD})).status_code == 303
        yield client


@pytest.mark.asvs("AUTH-08")
async def test_an_admin_changing_identifiers_in_the_console_goes_through_the_same_rules(
    world: TenantWorld, browser: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    user = await world.add_end_user(world.environment_id)
    token = await forgot(world, mail_app, smtp, user)
    path = f"/console/environments/{world.environment_id}/users/{user.account_id}"
    csrf = CSRF.search((await browser.get(path)).text)
    assert csrf is not None

    moved, phone = new_value("email"), new_value("phone")
    form = {"csrf": csrf.group(1), "email": moved, "username": user.username, "phone": phone}
    saved = await browser.post(f"{path}/identifiers", data=form)
    assert saved.status_code == 303, saved.text
    assert (await fetch(world, user))["email"] == moved

    await mail_app.state.outbox.run_once()
    notice = smtp.inbox.wait_for(user.email, count=2)
    assert notice["Subject"] == "Your email address was changed"
    assert smtp.inbox.wait_for(moved)["Subject"] == "Your phone number was changed"
    reset = await world.http.post(
        f"{user.auth_base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD}
    )
    assert (reset.status_code, reset.json()["code"]) == (400, "invalid_token")
    actions = {event["action"] for event in await events(world, targetId=user.account_id)}
    assert {"end_user.email_changed", "end_user.phone_changed"} <= actions
