"""A password reset proves the mailbox: an account whose email was never verified has it verified, and loses
the second factors enrolled before (perhaps a squatter's, who signed up with the address before its owner);
an account whose email was verified keeps them. Emails through a real SMTP server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from sump.db.tables.audit import AuditEvent
from tests.factors.conftest import Clock, end_user_with_totp
from tests.mail import SmtpServer, reset_token
from tests.support import new_tenant

NEW_PASSWORD = "the owner's own new passphrase"


@pytest.fixture
async def http(mail_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mail_app, raise_app_exceptions=False, client=("203.0.113.12", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as client:
        yield client


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
        [event] = await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "password.reset_verified_email",
                AuditEvent.target_id == uuid.UUID(squatter.account_id),
            )
        )
        assert event.details == {"factors_removed": 1}


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
