"""Hosted sign-up (only where the environment allows it), forgotten password and reset, through the services of
the API, with the reset link of the email leading to the hosted page."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.sessions import Session
from tests.factors.conftest import Clock
from tests.hosted.support import CHALLENGE, CSRF, FACTOR, RECOVERY, SECRET, csrf_of, found, pages, sign_in
from tests.mail import HOSTED_LINK, SmtpServer
from tests.support import PASSWORD, TenantWorld, new_tenant

NEW_PASSWORD = "a brand new hosted passphrase"


@pytest.fixture
async def mailing(mail_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mail_app, raise_app_exceptions=False, client=("198.51.100.77", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http


def new_user() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"name": f"Ada {tag}", "email": f"ada-{tag}@example.com", "username": f"ada_{tag}"}


async def test_sign_up_creates_the_account_and_signs_in(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    base = pages(world.environment_id)
    fields = new_user()
    csrf = await csrf_of(browser, f"{base}/sign-up")
    form = {"csrf": csrf, **fields, "password": PASSWORD, "passwordConfirm": PASSWORD}
    done = await browser.post(f"{base}/sign-up", data=form)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{base}/signed-in"
    assert "sump_hosted=" in done.headers["set-cookie"]
    assert fields["name"] in (await browser.get(f"{base}/signed-in")).text
    browser.cookies.clear()
    assert (await sign_in(browser, world.environment_id, fields["username"], PASSWORD)).status_code == 303


async def test_where_factors_are_required_sign_up_leads_through_enrolment(
    browser: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    """The page a password sign-in of the new account would lead to: an authenticator app to set up, and no
    session until its first code."""
    environment_id = await world.add_environment(settings={"factorPolicy": "required"})
    base = pages(environment_id)
    fields = new_user()
    csrf = await csrf_of(browser, f"{base}/sign-up")
    form = {"csrf": csrf, **fields, "password": PASSWORD, "passwordConfirm": PASSWORD}
    page = await browser.post(f"{base}/sign-up", data=form)
    assert page.status_code == 200, page.text
    assert "<svg" in page.text
    assert 'action="' + f"{base}/sign-in/enrol" + '"' in page.text
    assert "sump_hosted=" not in page.headers.get("set-cookie", "")
    not_yet = await browser.get(f"{base}/signed-in")
    assert (not_yet.status_code, not_yet.headers["location"]) == (303, f"{base}/sign-in")

    secret = found(SECRET, page.text)
    step = {
        "csrf": found(CSRF, page.text),
        "challenge": found(CHALLENGE, page.text),
        "factorId": found(FACTOR, page.text),
    }
    done = await browser.post(f"{base}/sign-in/enrol", data={**step, "code": clock.code(secret)})
    assert done.status_code == 200, done.text
    assert len(RECOVERY.findall(done.text)) == 10
    assert "sump_hosted=" in done.headers["set-cookie"]
    assert f'href="{base}/signed-in"' in done.text
    signed_in = await browser.get(f"{base}/signed-in")
    assert signed_in.status_code == 200
    assert fields["name"] in signed_in.text


async def test_sign_up_refusals_keep_the_form_and_say_why(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    base = pages(world.environment_id)
    existing = await world.add_end_user(world.environment_id)
    csrf = await csrf_of(browser, f"{base}/sign-up")
    fields = new_user()
    mismatch = await browser.post(
        f"{base}/sign-up", data={"csrf": csrf, **fields, "password": PASSWORD, "passwordConfirm": PASSWORD + "x"}
    )
    assert mismatch.status_code == 400
    assert "Passwords do not match." in mismatch.text
    assert f'value="{fields["email"]}"' in mismatch.text
    weak = await browser.post(
        f"{base}/sign-up", data={"csrf": csrf, **fields, "password": "password", "passwordConfirm": "password"}
    )
    assert weak.status_code == 400
    taken = {**fields, "email": existing.email}
    refused = await browser.post(
        f"{base}/sign-up", data={"csrf": csrf, **taken, "password": PASSWORD, "passwordConfirm": PASSWORD}
    )
    assert refused.status_code == 409
    assert "already exists" in refused.text
    assert "sump_hosted=" not in refused.headers.get("set-cookie", "")


async def test_sign_up_pages_exist_only_where_sign_up_is_on(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    closed = await world.add_environment(settings={"signupEnabled": False})
    base = pages(closed)
    page = await browser.get(f"{base}/sign-in")
    assert "Create an account" not in page.text
    assert (await browser.get(f"{base}/sign-up")).status_code == 404
    csrf = await csrf_of(browser, f"{base}/sign-in")
    form = {"csrf": csrf, **new_user(), "password": PASSWORD, "passwordConfirm": PASSWORD}
    assert (await browser.post(f"{base}/sign-up", data=form)).status_code == 404
    assert "Create an account" in (await browser.get(f"{pages(world.environment_id)}/sign-in")).text


async def test_forgot_password_answers_alike_and_the_emailed_link_opens_the_hosted_reset(
    mailing: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(mailing)
    user = await world.add_end_user(world.environment_id)
    base = pages(world.environment_id)
    csrf = await csrf_of(mailing, f"{base}/forgot-password")
    known = await mailing.post(f"{base}/forgot-password", data={"csrf": csrf, "identifier": user.email})
    unknown = await mailing.post(f"{base}/forgot-password", data={"csrf": csrf, "identifier": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(user.email, "X") == unknown.text.replace("nobody@example.com", "X")
    assert "a reset link has been sent" in known.text
    await mail_app.state.outbox.run_once()
    [message] = smtp.inbox.to(user.email)
    link = HOSTED_LINK.search(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert link is not None
    assert link.group(1) == world.environment_id

    page = await mailing.get(link.group(0).removeprefix("http://sump.test"))
    assert page.status_code == 200
    assert f'name="token" value="{link.group(2)}"' in page.text
    csrf = await csrf_of(mailing, f"{base}/reset-password")
    form = {"csrf": csrf, "token": link.group(2), "newPassword": NEW_PASSWORD, "passwordConfirm": NEW_PASSWORD}
    done = await mailing.post(f"{base}/reset-password", data=form)
    assert done.status_code == 200
    assert "Password has been reset successfully" in done.text
    again = await mailing.post(f"{base}/reset-password", data=form)
    assert again.status_code == 400
    assert "invalid or has expired" in again.text
    assert (await sign_in(mailing, world.environment_id, user.email, NEW_PASSWORD)).status_code == 303
    assert (await mailing.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 401
    account = f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}"
    verified = (await mailing.get(account, headers=world.owner.auth)).json()["emailVerified"]
    assert verified is True, "following the emailed link proved the mailbox"


async def test_a_reset_with_a_made_up_token_or_a_weak_password_is_refused(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    base = pages(world.environment_id)
    csrf = await csrf_of(browser, f"{base}/reset-password?token=made-up")
    form = {"csrf": csrf, "token": "made-up", "newPassword": NEW_PASSWORD, "passwordConfirm": NEW_PASSWORD}
    refused = await browser.post(f"{base}/reset-password", data=form)
    assert refused.status_code == 400
    assert "invalid or has expired" in refused.text
    short = {**form, "newPassword": "short", "passwordConfirm": "short"}
    assert (await browser.post(f"{base}/reset-password", data=short)).status_code == 400


async def test_where_sign_in_needs_a_verified_email_sign_up_asks_to_check_it(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    environment_id = await world.add_environment(settings={"requireVerifiedEmail": True})
    base = pages(environment_id)
    fields = new_user()
    csrf = await csrf_of(browser, f"{base}/sign-up")
    done = await browser.post(
        f"{base}/sign-up", data={"csrf": csrf, **fields, "password": PASSWORD, "passwordConfirm": PASSWORD}
    )
    assert done.status_code == 200
    assert "Check your email" in done.text
    assert "sump_hosted=" not in done.headers.get("set-cookie", "")
    refused = await sign_in(browser, environment_id, fields["email"], PASSWORD)
    assert refused.status_code == 403
    assert "Verify your email address" in refused.text


async def test_a_sign_up_ends_the_browsers_session_it_replaces(
    browser: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """As a sign-in does: someone signing up in a browser where another end user is signed in replaces that
    session, which ends, rather than lingering for its days with its refresh tokens, out of reach of the
    browser's own sign-out."""
    user = await world.add_end_user(world.environment_id)
    mine = select(func.count()).select_from(Session).where(Session.account_id == uuid.UUID(user.account_id))
    assert (await sign_in(browser, world.environment_id, user.email, PASSWORD)).status_code == 303
    before = await db.scalar(mine)
    assert before is not None
    base = pages(world.environment_id)
    form = {"csrf": await csrf_of(browser, f"{base}/sign-up"), **new_user(), "password": PASSWORD}
    done = await browser.post(f"{base}/sign-up", data=form | {"passwordConfirm": PASSWORD})
    assert done.status_code == 303, done.text
    db.expire_all()
    assert await db.scalar(mine) == before - 1, "the browser's session of the other end user ended"
