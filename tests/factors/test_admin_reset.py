"""Resets of an account's second factors, emails read from a real SMTP server: an admin's (who may, the audit
event, the email, a sign-in with the password alone afterwards), and a password reset's, which proves the
mailbox: an account whose email was never verified has it verified and loses the factors enrolled before (perhaps
a squatter's, who signed up with the address before its owner); an account whose email was verified keeps them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.audit import AuditEvent
from tests.factors.conftest import Clock, end_user_with_totp, enrol_totp, member_with_totp
from tests.factors.test_passkeys import a_passkey_sign_in_ended_by, passkey_environment, soft_passkey_user
from tests.factors.test_step_up import later
from tests.mail import SmtpServer, reset_token
from tests.support import TenantWorld, bearer, new_tenant


@pytest.fixture
async def http(mail_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mail_app, raise_app_exceptions=False, client=("203.0.113.11", 1234))
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # each request says which credentials it sends
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as client:
        yield client


async def _events(db: AsyncSession, action: str, target: str) -> list[AuditEvent]:
    statement = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.target_id == uuid.UUID(target))
    return list(await db.scalars(statement))


async def test_an_admin_resets_an_end_users_factors(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, clock: Clock
) -> None:
    world = await new_tenant(http)
    user, enrolled = await end_user_with_totp(http, world, clock)
    assert (await http.post(f"{enrolled.base}/login", json=enrolled.login)).status_code == 202
    url = f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}/factors"

    # Neither the end user nor a tenant user may.
    mere = await world.add_member("user")
    for who in (enrolled.auth, mere.auth):
        refused = await http.delete(url, headers=who)
        assert refused.status_code == 403, refused.text

    reset = await http.delete(url, headers=world.owner.auth)
    assert reset.status_code == 200, reset.text
    assert reset.json() == {"removed": 1}
    assert (await http.post(f"{enrolled.base}/login", json=enrolled.login)).status_code == 200
    listed = await http.get(f"{enrolled.base}/me/factors", headers=enrolled.auth)
    assert listed.json() == {"factors": [], "recoveryCodesLeft": 0}

    assert await mail_app.state.outbox.run_once() >= 1
    message = smtp.inbox.wait_for(user.email, 2)  # after the one telling of the enrolment
    assert message["Subject"] == "Your second factors were reset"
    assert "removed the second factors" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    async with mail_app.state.sessionmaker() as db:
        [event] = await _events(db, "end_user.factors_reset", user.account_id)
        assert event.actor_id == uuid.UUID(world.owner.account_id)
        assert event.environment_id == uuid.UUID(world.environment_id)


async def test_tenant_account_resets_follow_the_role_rules(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, clock: Clock
) -> None:
    world = await new_tenant(http)
    member, enrolled = await member_with_totp(http, world, clock, role="admin")
    admin = await world.add_member("admin")
    url = f"{world.base}/accounts/{member.account_id}/factors"
    refused = await http.delete(url, headers=admin.auth)  # an admin manages users only
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_role")
    done = await http.delete(url, headers=world.owner.auth)
    assert done.status_code == 200, done.text
    assert (await http.post(f"{enrolled.base}/login", json=enrolled.login)).status_code == 200
    await mail_app.state.outbox.run_once()
    assert smtp.inbox.wait_for(member.email, 2)["Subject"] == "Your second factors were reset"
    async with mail_app.state.sessionmaker() as db:
        assert len(await _events(db, "tenant_account.factors_reset", member.account_id)) == 1


async def test_an_admin_with_a_factor_resets_only_when_stepped_up(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reset lets the account sign in with its password alone: a stolen admin session, past its five minutes,
    must prove the admin's factor again first."""
    user, _ = await end_user_with_totp(client, world, clock)
    owner_seed, _, _ = await enrol_totp(client, f"/api/v1/auth/tenants/{world.tenant_id}", world.owner.token, clock)
    later(monkeypatch, timedelta(minutes=5, seconds=1))
    url = f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}/factors"
    refused = await client.delete(url, headers=world.owner.auth)
    assert (refused.status_code, refused.json()["code"]) == (403, "step_up_required")
    step_up = f"/api/v1/auth/tenants/{world.tenant_id}/step-up"
    stepped = await client.post(step_up, json={"code": clock.code(owner_seed)}, headers=world.owner.auth)
    assert stepped.status_code == 200, stepped.text
    done = await client.delete(url, headers=world.owner.auth)
    assert (done.status_code, done.json()) == (200, {"removed": 1})


async def test_another_tenants_account_is_not_found(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, clock: Clock
) -> None:
    user, _ = await end_user_with_totp(client, world, clock)
    member, _ = await member_with_totp(client, world, clock)
    theirs = await client.delete(f"{other.base}/accounts/{member.account_id}/factors", headers=other.owner.auth)
    assert theirs.status_code == 404
    crossed = await client.delete(
        f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}/factors", headers=other.owner.auth
    )
    assert crossed.status_code == 404


async def test_a_factor_answers_only_to_its_own_account(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, clock: Clock
) -> None:
    _, mine = await end_user_with_totp(client, world, clock)
    _, theirs = await end_user_with_totp(client, world, clock)
    _, elsewhere = await end_user_with_totp(client, other, clock)
    for factor_id in (theirs.factor_id, elsewhere.factor_id):
        removed = await client.delete(f"{mine.base}/me/factors/{factor_id}", headers=mine.auth)
        assert (removed.status_code, removed.json()["code"]) == (404, "factor_not_found")
        confirmed = await client.post(
            f"{mine.base}/me/factors/{factor_id}/confirm", json={"code": clock.code(mine.seed)}, headers=mine.auth
        )
        assert (confirmed.status_code, confirmed.json()["code"]) == (404, "factor_not_found")
    for enrolled in (theirs, elsewhere):
        assert (await client.post(f"{enrolled.base}/login", json=enrolled.login)).status_code == 202


NEW_PASSWORD = "the owner's own new passphrase"


async def _reset(http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, base: str, email: str) -> None:
    """The owner of `email` asks for a reset link and follows it."""
    assert (await http.post(f"{base}/forgot-password", json={"email": email})).status_code == 200
    await mail_app.state.outbox.run_once()
    [message] = [m for m in smtp.inbox.to(email) if m["Subject"] == "Reset your password"]
    body = {"token": reset_token(message), "newPassword": NEW_PASSWORD}
    assert (await http.post(f"{base}/reset-password", json=body)).status_code == 200


async def test_a_reset_of_an_unverified_account_removes_the_factors_enrolled_before(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, clock: Clock
) -> None:
    """Someone signs up with another's address (unverified) and enrols a factor; the address's owner, told it
    is taken, resets the password: the squatter's factor is gone, the owner signs in with the password alone,
    and is told why by email."""
    world = await new_tenant(http)
    squatter, enrolled = await end_user_with_totp(http, world, clock)
    assert (await http.post(f"{enrolled.base}/login", json=enrolled.login)).status_code == 202

    await _reset(http, mail_app, smtp, enrolled.base, squatter.email)
    login = {"username": squatter.username, "password": NEW_PASSWORD}
    signed_in = await http.post(f"{enrolled.base}/login", json=login)
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["token"]
    listed = await http.get(f"{enrolled.base}/me/factors", headers={"Authorization": f"Bearer {token}"})
    assert listed.json() == {"factors": [], "recoveryCodesLeft": 0}
    account = f"/api/v1/environments/{world.environment_id}/accounts/{squatter.account_id}"
    assert (await http.get(account, headers=world.owner.auth)).json()["emailVerified"] is True

    await mail_app.state.outbox.run_once()
    [told] = [m for m in smtp.inbox.to(squatter.email) if m["Subject"] == "Your second factors were reset"]
    assert "confirmed that this email address is yours" in told.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    async with mail_app.state.sessionmaker() as db:
        [event] = await _events(db, "password.reset_verified_email", squatter.account_id)
        assert event.details == {"factors_removed": 1}


async def test_a_reset_proving_the_address_while_a_passkey_of_the_account_signs_in_ends_that_session(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The squatter's passkey signs in (its row held) while the owner's reset proves the address. The reset
    removes the factors before it writes the account's row, in a sign-in's order, so it waits for the passkey's
    sign-in and then ends its session, instead of a circle of the two that PostgreSQL would end."""
    world = await new_tenant(http)
    squatter, key = await soft_passkey_user(http, world, await passkey_environment(world))
    assert (await http.post(f"{squatter.auth_base}/forgot-password", json={"email": squatter.email})).status_code == 200
    await mail_app.state.outbox.run_once()
    [message] = [m for m in smtp.inbox.to(squatter.email) if m["Subject"] == "Reset your password"]
    reset = {"token": reset_token(message), "newPassword": NEW_PASSWORD}

    await a_passkey_sign_in_ended_by(
        http, db, monkeypatch, squatter, key, lambda: http.post(f"{squatter.auth_base}/reset-password", json=reset)
    )

    signed_in = await http.post(
        f"{squatter.auth_base}/login", json={"username": squatter.username, "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    listed = await http.get(f"{squatter.auth_base}/me/factors", headers=bearer(signed_in.json()["token"]))
    assert listed.json() == {"factors": [], "recoveryCodesLeft": 0}


async def test_a_reset_of_a_verified_account_keeps_its_factors(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, clock: Clock
) -> None:
    """Where the address was verified, the factors are the owner's: a reset (perhaps by whoever reads the
    mailbox) leaves them, and the password alone does not sign in."""
    world = await new_tenant(http)
    user, enrolled = await end_user_with_totp(http, world, clock)
    account = f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}"
    assert (await http.post(f"{account}/email-verified", headers=world.owner.auth)).status_code == 204

    await _reset(http, mail_app, smtp, enrolled.base, user.email)
    login = {"username": user.username, "password": NEW_PASSWORD}
    challenged = await http.post(f"{enrolled.base}/login", json=login)
    assert challenged.status_code == 202, challenged.text
    assert challenged.json()["enrol"] is False
