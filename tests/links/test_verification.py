"""Verified emails for both account families: the link a sign-up sends, its rules (single use with one winner,
24 hours, bound to its pool, stored as a digest, replaced by a resend), the environment's settings, sign-in
refused `email_unverified` only after a right password, one's own email change pending until verified and
cancellable from the old address, and admins marking an email verified. Emails are read from a real SMTP
server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.accounts import links, verification
from sump.app import create_app
from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.links import AccountToken
from sump.kit.crypto import token_digest
from tests.links.conftest import delivered, events, link_in
from tests.mail import SmtpServer, reset_token
from tests.support import (
    PASSWORD,
    Database,
    EndUser,
    TenantWorld,
    bearer,
    during,
    make_settings,
    new_tenant,
    within_one_window_of_the_clock,
)

VERIFY = "Verify your email address"
CONFIRM = "Confirm your new email address"
ABOUT_TO_CHANGE = "Your email address is about to change"
INVALID = {"status": 400, "code": "invalid_token"}


def problem(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    return {"status": response.status_code, "code": body.get("code")}


async def set_environment(http: httpx.AsyncClient, world: TenantWorld, environment_id: str, **settings: object) -> None:
    url = f"{world.base}/environments/{environment_id}"
    changed = await http.patch(url, json={"settings": settings}, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text


async def end_user(http: httpx.AsyncClient, world: TenantWorld, environment_id: str | None = None) -> EndUser:
    return await world.add_end_user(environment_id or await world.add_environment())


async def verified(http: httpx.AsyncClient, world: TenantWorld, user: EndUser) -> bool:
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    answer = await http.get(url, headers=world.owner.auth)
    flag: bool = answer.json()["emailVerified"]
    return flag


async def test_sign_up_sends_a_link_that_verifies_the_email_once(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    assert not await verified(http, world, user)
    message = await delivered(mail_app, smtp, user.email, VERIFY)
    assert message.get_body(("html",)) is not None
    _, family, context, token = link_in(message, "verify-email")
    assert (family, context) == ("environment", user.environment_id)
    stored = await db.scalar(select(AccountToken).where(AccountToken.token_hash == token_digest(token)))
    assert stored is not None, "stored as its digest"
    assert stored.used_at is None
    assert stored.expires_at - stored.created_at == timedelta(hours=24)

    followed = await http.post(f"{user.auth_base}/verify-email", json={"token": token})
    assert followed.status_code == 200, followed.text
    assert followed.json() == {"message": "Your email address is verified."}
    assert await verified(http, world, user)
    again = await http.post(f"{user.auth_base}/verify-email", json={"token": token})
    assert problem(again) == INVALID
    [event] = await events(db, "end_user.email_verified", target_id=user.account_id)
    assert token not in str(event.details)


async def test_an_environment_may_send_no_link_at_sign_up(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    environment_id = await world.add_environment(settings={"emailVerification": False})
    user = await end_user(http, world, environment_id)
    await mail_app.state.outbox.run_once()
    assert smtp.inbox.to(user.email, verification=True) == []
    # The end user may still ask for one.
    asked = await http.post(f"{user.auth_base}/verify-email/resend", headers=user.auth)
    assert asked.status_code == 202, asked.text
    await delivered(mail_app, smtp, user.email, VERIFY)


async def test_concurrent_redemptions_have_one_winner(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    token = link_in(await delivered(mail_app, smtp, user.email, VERIFY))[3]
    answers = await asyncio.gather(
        *(http.post(f"{user.auth_base}/verify-email", json={"token": token}) for _ in range(10))
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(200) == 1, [answer.text for answer in answers]
    assert all(problem(answer) == INVALID for answer in answers if answer.status_code != 200)


async def test_an_account_deleted_while_its_link_verifies_the_address_is_deleted(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The verification holds its link's row, then writes the account's. A deletion ends the account's links of
    every purpose before its row, so it waits for the verification (`accounts.removal`) instead of a circle of
    the two that PostgreSQL would end."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    token = link_in(await delivered(mail_app, smtp, user.email, VERIFY))[3]
    account = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"

    followed, deleted = await during(
        http.post(f"{user.auth_base}/verify-email", json={"token": token}),
        (verification, "_audit"),
        lambda: http.delete(account, headers=world.owner.auth),
        db,
        monkeypatch,
    )

    assert followed.status_code == 200, followed.text
    assert deleted.status_code == 204, deleted.text
    assert (await http.get(account, headers=world.owner.auth)).status_code == 404


async def test_an_expired_link_is_refused(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    token = link_in(await delivered(mail_app, smtp, user.email, VERIFY))[3]
    await db.execute(
        update(AccountToken)
        .where(AccountToken.token_hash == token_digest(token))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    assert problem(await http.post(f"{user.auth_base}/verify-email", json={"token": token})) == INVALID
    assert not await verified(http, world, user)


async def test_a_link_works_only_in_its_own_pool(http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer) -> None:
    world = await new_tenant(http)
    other = await new_tenant(http)
    user = await end_user(http, world)
    token = link_in(await delivered(mail_app, smtp, user.email, VERIFY))[3]
    elsewhere = [
        f"/api/v1/auth/environments/{world.environment_id}/verify-email",
        f"/api/v1/auth/environments/{other.environment_id}/verify-email",
        f"/api/v1/auth/tenants/{world.tenant_id}/verify-email",
    ]
    for url in elsewhere:
        assert problem(await http.post(url, json={"token": token})) == INVALID, url
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": token})).status_code == 200


async def test_a_resend_kills_the_earlier_link_and_is_limited_per_account(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    first = link_in(await delivered(mail_app, smtp, user.email, VERIFY))[3]
    answers = [await http.post(f"{user.auth_base}/verify-email/resend", headers=user.auth) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
    assert answers[0].json() == {"message": "A verification link is on its way to your email address."}
    assert answers[3].json()["code"] == "rate_limited"
    assert "retry-after" in answers[3].headers
    last = link_in(await delivered(mail_app, smtp, user.email, VERIFY, count=4))[3]
    assert problem(await http.post(f"{user.auth_base}/verify-email", json={"token": first})) == INVALID
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": last})).status_code == 200
    done = await http.post(f"{user.auth_base}/verify-email/resend", headers=user.auth)
    assert problem(done) == {"status": 409, "code": "email_already_verified"}
    anonymous = await http.post(f"{user.auth_base}/verify-email/resend")
    assert anonymous.status_code == 401


async def test_resends_are_limited_per_address(database: Database) -> None:
    app = create_app(make_settings(database, rate_limits=True))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.22", 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
            world = await new_tenant(http)
            environment_id = await world.add_environment(settings={"emailVerification": False})
            users = [await end_user(http, world, environment_id) for _ in range(4)]
            await within_one_window_of_the_clock(5)
            answers = [
                (await http.post(f"{user.auth_base}/verify-email/resend", headers=user.auth)).status_code
                for user in users
                for _ in range(3)
            ]
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()
    assert answers[:10] == [202] * 10
    assert answers[10:] == [429, 429]


async def test_sign_in_needs_a_verified_email_only_after_the_right_password(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    environment_id = await world.add_environment()
    user = await end_user(http, world, environment_id)
    await set_environment(http, world, environment_id, requireVerifiedEmail=True)
    login = f"{user.auth_base}/login"

    wrong = await http.post(login, json={"email": user.email, "password": "not the password at all"})
    unknown = await http.post(login, json={"email": "nobody@example.com", "password": "not the password at all"})
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert answer.json()["code"] == "invalid_credentials"
        assert answer.json()["detail"] == "Invalid credentials."
    right = await http.post(login, json={"email": user.email, "password": PASSWORD})
    assert problem(right) == {"status": 403, "code": "email_unverified"}
    assert "set-cookie" not in right.headers

    token = link_in(await delivered(mail_app, smtp, user.email, VERIFY))[3]
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": token})).status_code == 200
    assert (await http.post(login, json={"email": user.email, "password": PASSWORD})).status_code == 200


async def test_sign_up_where_a_verified_email_is_needed_gives_no_session(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    environment_id = await world.add_environment(settings={"requireVerifiedEmail": True, "emailVerification": False})
    body = {"name": "Pat Pending", "email": "pat@example.com", "username": "pat_pending", "password": PASSWORD}
    base = f"/api/v1/auth/environments/{environment_id}"
    signed_up = await http.post(f"{base}/signup", json=body)
    assert signed_up.status_code == 202, signed_up.text
    assert signed_up.json()["emailVerificationRequired"] is True
    assert "token" not in signed_up.json()
    assert "set-cookie" not in signed_up.headers
    token = link_in(await delivered(mail_app, smtp, "pat@example.com", VERIFY))[3]
    assert (await http.post(f"{base}/verify-email", json={"token": token})).status_code == 200
    assert (
        await http.post(f"{base}/login", json={"email": "pat@example.com", "password": PASSWORD})
    ).status_code == 200


async def test_own_email_change_waits_for_the_new_address(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    asked = await http.patch(
        f"{url}/email", json={"email": "moved@example.com", "currentPassword": PASSWORD}, headers=user.auth
    )
    assert asked.status_code == 202, asked.text
    assert "once it is followed" in asked.json()["message"]
    mine = await http.get(url, headers=user.auth)
    assert mine.json()["email"] == user.email, "nothing changes before the new address is verified"
    assert (
        await http.post(f"{user.auth_base}/login", json={"email": user.email, "password": PASSWORD})
    ).status_code == 200

    warning = await delivered(mail_app, smtp, user.email, ABOUT_TO_CHANGE)
    assert link_in(warning)[0] == "cancel-email-change"
    confirm = link_in(await delivered(mail_app, smtp, "moved@example.com", CONFIRM), "verify-email")[3]
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": confirm})).status_code == 200
    moved = (await http.get(url, headers=world.owner.auth)).json()
    assert (moved["email"], moved["emailVerified"]) == ("moved@example.com", True)
    login = await http.post(f"{user.auth_base}/login", json={"email": "moved@example.com", "password": PASSWORD})
    assert login.status_code == 200
    assert await events(db, "end_user.email_change_requested", target_id=user.account_id)


async def test_own_email_changes_mail_a_few_times_an_hour_per_account_and_per_address(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """Each request mails an address its account chose: one account asks at most 5 an hour, one address of the
    environment is sent at most 3 confirmations an hour whoever asks (on even with per-address limits off), and
    a name is shown on one line and as it reads (no direction override), so none writes lines of its own, or
    turns a sentence around, in a message sent in Sump's name."""
    world = await new_tenant(http)
    environment_id = await world.add_environment()
    sender, second, third = [await world.add_end_user(environment_id) for _ in range(3)]
    stranger = f"stranger-{uuid.uuid4().hex[:8]}@example.org"

    def asked(user: EndUser, email: str) -> Awaitable[httpx.Response]:
        url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/email"
        return http.patch(url, json={"email": email, "currentPassword": PASSWORD}, headers=user.auth)

    # A name of lines is refused now; one stored before (or imported) is still shown on one line, as it reads.
    lines = "Bob\nYour account is suspended, call \u202e0010-555"  # the override shows the number as 555-0100
    await db.execute(
        update(EnvironmentAccount).where(EnvironmentAccount.id == uuid.UUID(sender.account_id)).values(name=lines)
    )
    await db.commit()
    for _ in range(3):
        assert (await asked(sender, stranger)).status_code == 202
    assert problem(await asked(second, stranger)) == {"status": 429, "code": "rate_limited"}
    text = (await delivered(mail_app, smtp, stranger, CONFIRM)).get_body(("plain",))
    assert text is not None
    assert text.get_content().splitlines()[0] == "Hello Bob Your account is suspended, call 0010-555,"
    for count in range(2):
        assert (await asked(sender, f"elsewhere-{count}-{uuid.uuid4().hex[:6]}@example.org")).status_code == 202
    assert problem(await asked(sender, f"yet-another-{uuid.uuid4().hex[:6]}@example.org")) == {
        "status": 429,
        "code": "rate_limited",
    }
    assert (await asked(third, f"own-{uuid.uuid4().hex[:6]}@example.org")).status_code == 202, "others ask on"


async def test_the_old_address_undoes_a_change_and_ends_every_session(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    body = {"email": "thief@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=user.auth)).status_code == 202
    cancel = link_in(await delivered(mail_app, smtp, user.email, ABOUT_TO_CHANGE))[3]
    confirm = link_in(await delivered(mail_app, smtp, "thief@example.com", CONFIRM))[3]
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": confirm})).status_code == 200

    undone = await http.post(f"{user.auth_base}/cancel-email-change", json={"token": cancel})
    assert undone.status_code == 200, undone.text
    assert undone.json() == {"message": "The email change was cancelled."}
    back = (await http.get(url, headers=world.owner.auth)).json()
    assert (back["email"], back["emailVerified"]) == (user.email, True)
    assert (await http.get(f"{user.auth_base}/session", headers=bearer(user.token))).status_code == 401
    again = await http.post(f"{user.auth_base}/cancel-email-change", json={"token": cancel})
    assert problem(again) == INVALID


async def test_a_cancelled_change_cannot_be_confirmed(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    body = {"email": "later@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=user.auth)).status_code == 202
    cancel = link_in(await delivered(mail_app, smtp, user.email, ABOUT_TO_CHANGE))[3]
    confirm = link_in(await delivered(mail_app, smtp, "later@example.com", CONFIRM))[3]
    assert (await http.post(f"{user.auth_base}/cancel-email-change", json={"token": cancel})).status_code == 200
    assert problem(await http.post(f"{user.auth_base}/verify-email", json={"token": confirm})) == INVALID
    assert (await http.get(url, headers=user.auth)).json()["email"] == user.email
    # The session of the account was not ended: nothing had changed.
    assert (await http.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 200


async def move_and_confirm(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, user: EndUser, email: str
) -> str:
    """The end user's own email change to `email`, confirmed: the token of the cancel link the address it left
    received."""
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    before = (await http.get(url, headers=user.auth)).json()["email"]
    body = {"email": email, "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=user.auth)).status_code == 202
    cancel = link_in(await delivered(mail_app, smtp, before, ABOUT_TO_CHANGE), "cancel-email-change")[3]
    confirm = link_in(await delivered(mail_app, smtp, email, CONFIRM))[3]
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": confirm})).status_code == 200
    return cancel


async def test_a_second_change_leaves_the_first_address_its_cancel_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """A thief with the password moves the account to their address, confirms it, then asks to move it again:
    the cancel link sent to the owner's address still wins the account back, and the cancel link that second
    request sent to the thief's address cannot then take it back."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    owners = await move_and_confirm(http, mail_app, smtp, user, "thief@example.com")
    again = {"email": "thief-again@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=again, headers=user.auth)).status_code == 202
    thiefs = link_in(await delivered(mail_app, smtp, "thief@example.com", ABOUT_TO_CHANGE), "cancel-email-change")[3]

    undone = await http.post(f"{user.auth_base}/cancel-email-change", json={"token": owners})
    assert undone.status_code == 200, undone.text
    assert problem(await http.post(f"{user.auth_base}/cancel-email-change", json={"token": thiefs})) == INVALID
    back = (await http.get(url, headers=world.owner.auth)).json()
    assert (back["email"], back["emailVerified"]) == (user.email, True)


async def test_a_later_address_cancelling_leaves_the_earlier_address_its_cancel_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """A thief moves the account from the owner's address A to B, then to C, confirming both, and follows the
    cancel link B received (the account is B's again): the owner's cancel link still takes it back to A."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    owners = await move_and_confirm(http, mail_app, smtp, user, "thief-b@example.com")
    thiefs = await move_and_confirm(http, mail_app, smtp, user, "thief-c@example.com")
    taken_back = await http.post(f"{user.auth_base}/cancel-email-change", json={"token": thiefs})
    assert taken_back.status_code == 200, taken_back.text
    assert (await http.get(url, headers=world.owner.auth)).json()["email"] == "thief-b@example.com"

    undone = await http.post(f"{user.auth_base}/cancel-email-change", json={"token": owners})
    assert undone.status_code == 200, undone.text
    back = (await http.get(url, headers=world.owner.auth)).json()
    assert (back["email"], back["emailVerified"]) == (user.email, True)


async def test_coming_back_to_an_address_ends_the_cancel_links_of_the_way(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """The owner moves the account from A to a mistyped B, whose stranger confirms it, then back to A: the
    stranger's cancel link (sent when the account left B) must not take the account to B again."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    owners = await move_and_confirm(http, mail_app, smtp, user, "typo@example.com")
    strangers = await move_and_confirm(http, mail_app, smtp, user, user.email)
    assert problem(await http.post(f"{user.auth_base}/cancel-email-change", json={"token": strangers})) == INVALID
    assert problem(await http.post(f"{user.auth_base}/cancel-email-change", json={"token": owners})) == INVALID
    here = (await http.get(url, headers=world.owner.auth)).json()
    assert (here["email"], here["emailVerified"]) == (user.email, True)
    assert (await http.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 200

    # A later change starts a way of its own: the address it leaves gets a cancel link that works.
    body = {"email": "next@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=user.auth)).status_code == 202
    again = link_in(await delivered(mail_app, smtp, user.email, ABOUT_TO_CHANGE, count=2), "cancel-email-change")[3]
    assert (await http.post(f"{user.auth_base}/cancel-email-change", json={"token": again})).status_code == 200
    assert (await http.get(url, headers=world.owner.auth)).json()["email"] == user.email


async def test_an_admin_changing_an_end_users_email_needs_no_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    changed = await http.patch(f"{url}/email", json={"email": "by-admin@example.com"}, headers=world.owner.auth)
    assert changed.status_code == 204
    assert (await http.get(url, headers=world.owner.auth)).json()["email"] == "by-admin@example.com"


@pytest.mark.parametrize("family", ["environment", "tenant"])
async def test_an_email_set_by_an_admin_ends_the_links_of_a_change_in_progress(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, family: str
) -> None:
    """The account asked to move from A to B, and an admin then sets C (A was lost to someone else): neither the
    confirmation link B received nor the cancel link A received replaces C."""
    world = await new_tenant(http)
    if family == "tenant":
        member = await world.add_member("user")
        account_id, email, auth = member.account_id, member.email, member.auth
        url, base = f"{world.base}/accounts/{account_id}", f"/api/v1/auth/tenants/{world.tenant_id}"
    else:
        user = await end_user(http, world)
        account_id, email, auth, base = user.account_id, user.email, user.auth, user.auth_base
        url = f"/api/v1/environments/{user.environment_id}/accounts/{account_id}"
    body = {"email": "pending@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=auth)).status_code == 202
    cancel = link_in(await delivered(mail_app, smtp, email, ABOUT_TO_CHANGE), "cancel-email-change")[3]
    confirm = link_in(await delivered(mail_app, smtp, "pending@example.com", CONFIRM))[3]
    by_admin = {"email": "set-by-admin@example.com"}
    assert (await http.patch(f"{url}/email", json=by_admin, headers=world.owner.auth)).status_code == 204

    assert problem(await http.post(f"{base}/verify-email", json={"token": confirm})) == INVALID
    assert problem(await http.post(f"{base}/cancel-email-change", json={"token": cancel})) == INVALID
    account = (await http.get(url, headers=world.owner.auth)).json()
    assert (account["email"], account["emailVerified"]) == ("set-by-admin@example.com", False)
    left = await db.scalars(select(AccountToken.purpose).where(AccountToken.account_id == uuid.UUID(account_id)))
    assert list(left) == [], "no link of the account is left, a verification link sent to A included"


async def test_only_admins_mark_an_email_verified_and_it_is_audited(
    http: httpx.AsyncClient, mail_app: FastAPI, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    member = await world.add_member("user")
    admin = await world.add_member("admin")
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/email-verified"
    for who in (user.auth, member.auth):
        refused = await http.post(url, headers=who)
        assert refused.status_code == 403, refused.text
    assert not await verified(http, world, user)
    assert (await http.post(url, headers=admin.auth)).status_code == 204
    assert await verified(http, world, user)
    [event] = await events(db, "end_user.email_marked_verified", target_id=user.account_id)
    assert str(event.actor_id) == admin.account_id

    # Tenant accounts: owners, and admins for users; a user may not mark even their own.
    own = await http.post(f"{world.base}/accounts/{member.account_id}/email-verified", headers=member.auth)
    assert own.status_code == 403
    above = await http.post(f"{world.base}/accounts/{world.owner.account_id}/email-verified", headers=admin.auth)
    assert above.status_code == 403
    marked = await http.post(f"{world.base}/accounts/{member.account_id}/email-verified", headers=admin.auth)
    assert marked.status_code == 204
    account = await http.get(f"{world.base}/accounts/{member.account_id}", headers=world.owner.auth)
    assert account.json()["emailVerified"] is True
    assert await events(db, "tenant_account.email_marked_verified", target_id=member.account_id)


@pytest.mark.parametrize("through", ["api", "console"])
async def test_a_tenant_account_verifies_its_email_through_the_consoles_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, through: str
) -> None:
    world = await new_tenant(http)
    member = await world.add_member("user")
    base = f"/api/v1/auth/tenants/{world.tenant_id}"
    assert (await http.post(f"{base}/verify-email/resend", headers=member.auth)).status_code == 202
    page, family, context, token = link_in(await delivered(mail_app, smtp, member.email, VERIFY))
    assert (page, family, context) == ("verify-email", "tenant", world.tenant_id)
    if through == "api":
        assert (await http.post(f"{base}/verify-email", json={"token": token})).status_code == 200
    else:
        shown = await http.get(f"/console/verify-email?tenant={world.tenant_id}&token={token}")
        assert shown.status_code == 200
        assert "Verify my email address" in shown.text
        csrf = shown.text.split('name="csrf" value="')[1].split('"')[0]
        posted = await http.post(
            "/console/verify-email",
            data={"csrf": csrf, "tenant": world.tenant_id, "token": token},
            headers={"Origin": "http://sump.test", "Cookie": "; ".join(f"{k}={v}" for k, v in shown.cookies.items())},
        )
        assert posted.status_code == 303, posted.text
    account = await http.get(f"{world.base}/accounts/{member.account_id}", headers=member.auth)
    assert account.json()["emailVerified"] is True


async def test_a_new_tenants_owner_is_sent_a_link_that_verifies_their_email(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """As an end user at sign-up: until the owner's address is verified, a password reset by whoever reads
    that mailbox would also take the owner's second factors away."""
    world = await new_tenant(http)
    page, family, context, token = link_in(await delivered(mail_app, smtp, world.owner.email, VERIFY))
    assert (page, family, context) == ("verify-email", "tenant", world.tenant_id)
    me = f"{world.base}/accounts/{world.owner.account_id}"
    assert (await http.get(me, headers=world.owner.auth)).json()["emailVerified"] is False
    followed = await http.post(f"/api/v1/auth/tenants/{world.tenant_id}/verify-email", json={"token": token})
    assert followed.status_code == 200, followed.text
    assert (await http.get(me, headers=world.owner.auth)).json()["emailVerified"] is True


async def test_the_purge_takes_only_expired_links(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    old, fresh = await end_user(http, world), await end_user(http, world)
    expired = link_in(await delivered(mail_app, smtp, old.email, VERIFY))[3]
    live = link_in(await delivered(mail_app, smtp, fresh.email, VERIFY))[3]
    await db.execute(
        update(AccountToken)
        .where(AccountToken.token_hash == token_digest(expired))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    assert await links.purge_expired(db) >= 1
    await db.commit()
    kept = await db.scalars(
        select(AccountToken.token_hash).where(AccountToken.token_hash.in_([token_digest(expired), token_digest(live)]))
    )
    assert list(kept) == [token_digest(live)]


async def test_a_link_sent_to_an_address_an_admin_replaced_verifies_nothing(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """A verification link is bound to the address it was sent to: once an admin gives the account another
    (unverified) address, the sign-up's link cannot mark the new one verified."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    token = link_in(await delivered(mail_app, smtp, user.email, VERIFY))[3]
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    changed = await http.patch(f"{url}/email", json={"email": "unproven@example.com"}, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    refused = await http.post(f"{user.auth_base}/verify-email", json={"token": token})
    assert problem(refused) == INVALID
    assert refused.json()["detail"] == "Invalid or expired token."
    account = (await http.get(url, headers=world.owner.auth)).json()
    assert (account["email"], account["emailVerified"]) == ("unproven@example.com", False)


async def test_a_disabled_accounts_link_is_refused_and_not_used_up(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """A disabled account's verification link verifies nothing (the same 400 as any other token); it is not used
    up by the refusal, so it works once the account is enabled again."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    token = link_in(await delivered(mail_app, smtp, user.email, VERIFY))[3]
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    assert (await http.patch(f"{url}/disable", headers=world.owner.auth)).status_code == 204
    refused = await http.post(f"{user.auth_base}/verify-email", json={"token": token})
    assert problem(refused) == INVALID
    assert not await verified(http, world, user)
    assert (await http.patch(f"{url}/enable", headers=world.owner.auth)).status_code == 204
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": token})).status_code == 200
    assert await verified(http, world, user)


async def test_a_change_is_refused_when_another_account_took_the_address_meanwhile(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await end_user(http, world)
    rival = await world.add_end_user(user.environment_id)
    url = f"/api/v1/environments/{user.environment_id}/accounts"
    body = {"email": "wanted@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/{user.account_id}/email", json=body, headers=user.auth)).status_code == 202
    confirm = link_in(await delivered(mail_app, smtp, "wanted@example.com", CONFIRM))[3]
    taken = {"email": "wanted@example.com"}
    assert (
        await http.patch(f"{url}/{rival.account_id}/email", json=taken, headers=world.owner.auth)
    ).status_code == 204
    refused = await http.post(f"{user.auth_base}/verify-email", json={"token": confirm})
    assert (refused.status_code, refused.json()["code"]) == (409, "identifier_taken")
    mine = (await http.get(f"{url}/{user.account_id}", headers=world.owner.auth)).json()
    assert mine["email"] == user.email
    theirs = (await http.get(f"{url}/{rival.account_id}", headers=world.owner.auth)).json()
    assert theirs["email"] == "wanted@example.com"


async def test_a_confirmed_change_ends_the_reset_link_sent_to_the_old_address(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """Whoever reads the old inbox loses the account's ways in with the address: a password reset link sent
    there before the new address was confirmed no longer sets a password."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    assert (await http.post(f"{user.auth_base}/forgot-password", json={"email": user.email})).status_code == 200
    reset = reset_token(await delivered(mail_app, smtp, user.email, "Reset your password"))
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    body = {"email": "kept-safe@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=user.auth)).status_code == 202
    confirm = link_in(await delivered(mail_app, smtp, "kept-safe@example.com", CONFIRM))[3]
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": confirm})).status_code == 200
    refused = await http.post(
        f"{user.auth_base}/reset-password", json={"token": reset, "newPassword": "a password set by someone else"}
    )
    assert problem(refused) == INVALID
    login = await http.post(f"{user.auth_base}/login", json={"email": "kept-safe@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.text


async def test_an_own_email_change_meeting_the_confirmation_of_the_last_waits_for_it(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A confirmation holds its link, then writes the account's row. A new request of one's own ends the change
    in progress before it holds the row (a sign-in's order): it waits for the confirmation, where each waited
    for the other before, and then starts from the address just confirmed, which is told and can cancel it."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    first = {"email": "first@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=first, headers=user.auth)).status_code == 202
    confirm = link_in(await delivered(mail_app, smtp, "first@example.com", CONFIRM))[3]
    second = {"email": "second@example.com", "currentPassword": PASSWORD}

    confirmed, asked = await during(
        http.post(f"{user.auth_base}/verify-email", json={"token": confirm}),
        (verification, "ensure_identifiers_free"),
        lambda: http.patch(f"{url}/email", json=second, headers=user.auth),
        db,
        monkeypatch,
    )

    assert confirmed.status_code == 200, confirmed.text
    assert asked.status_code == 202, asked.text
    moved = (await http.get(url, headers=world.owner.auth)).json()
    assert (moved["email"], moved["emailVerified"]) == ("first@example.com", True)
    warning = await delivered(mail_app, smtp, "first@example.com", ABOUT_TO_CHANGE)
    cancel = link_in(warning, "cancel-email-change")[3]
    confirm_second = link_in(await delivered(mail_app, smtp, "second@example.com", CONFIRM))[3]
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": confirm_second})).status_code == 200
    assert (await http.post(f"{user.auth_base}/cancel-email-change", json={"token": cancel})).status_code == 200
    assert (await http.get(url, headers=world.owner.auth)).json()["email"] == "first@example.com"


async def test_a_confirmation_link_cancels_nothing(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Each link of an email change serves its own purpose only: the link sent to the new address, posted as a
    cancellation, is refused like any other token and neither changes the address nor is used up."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    body = {"email": "elsewhere@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=user.auth)).status_code == 202
    confirm = link_in(await delivered(mail_app, smtp, "elsewhere@example.com", CONFIRM))[3]
    refused = await http.post(f"{user.auth_base}/cancel-email-change", json={"token": confirm})
    assert problem(refused) == INVALID
    kept = (await http.get(url, headers=world.owner.auth)).json()
    assert kept["email"] == user.email
    assert (await http.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 200
    assert (await http.post(f"{user.auth_base}/verify-email", json={"token": confirm})).status_code == 200
    assert (await http.get(url, headers=world.owner.auth)).json()["email"] == "elsewhere@example.com"


async def test_a_cancel_link_verifies_nothing(http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer) -> None:
    """The link sent to the old address, posted as a verification, is refused like any other token: it neither
    confirms the change nor is used up."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    body = {"email": "elsewhere@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=user.auth)).status_code == 202
    cancel = link_in(await delivered(mail_app, smtp, user.email, ABOUT_TO_CHANGE), "cancel-email-change")[3]
    refused = await http.post(f"{user.auth_base}/verify-email", json={"token": cancel})
    assert problem(refused) == INVALID
    assert (await http.get(url, headers=world.owner.auth)).json()["email"] == user.email
    assert (await http.post(f"{user.auth_base}/cancel-email-change", json={"token": cancel})).status_code == 200


async def test_an_address_still_pending_neither_signs_in_nor_is_sent_a_reset_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Asking to move to B changes nothing yet: whoever holds B can neither sign in with it nor have a reset
    link sent there; B receives only the link that confirms the change."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    body = {"email": "pending@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=user.auth)).status_code == 202
    login = await http.post(f"{user.auth_base}/login", json={"email": "pending@example.com", "password": PASSWORD})
    assert problem(login) == {"status": 401, "code": "invalid_credentials"}
    forgot = await http.post(f"{user.auth_base}/forgot-password", json={"email": "pending@example.com"})
    assert forgot.status_code == 200
    await mail_app.state.outbox.run_once()
    assert [message["Subject"] for message in smtp.inbox.to("pending@example.com", verification=True)] == [CONFIRM]


@pytest.mark.parametrize("way", ["reset", "disable"])
async def test_a_new_password_or_disabling_ends_an_email_change_in_progress(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, way: str
) -> None:
    """Whoever held the password asked to move the account to their own address. The mailbox's owner resets
    the password (or an admin disables the account, and enables it again later): the confirmation link waiting
    in the other mailbox moves the account nowhere, as a magic or reset link sent before dies."""
    world = await new_tenant(http)
    user = await end_user(http, world)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    body = {"email": "taker@example.com", "currentPassword": PASSWORD}
    assert (await http.patch(f"{url}/email", json=body, headers=user.auth)).status_code == 202
    confirm = link_in(await delivered(mail_app, smtp, "taker@example.com", CONFIRM))[3]
    if way == "reset":
        assert (await http.post(f"{user.auth_base}/forgot-password", json={"email": user.email})).status_code == 200
        token = reset_token(await delivered(mail_app, smtp, user.email, "Reset your password"))
        new = {"token": token, "newPassword": "the owner's own new passphrase"}
        assert (await http.post(f"{user.auth_base}/reset-password", json=new)).status_code == 200
    else:
        assert (await http.patch(f"{url}/disable", headers=world.owner.auth)).status_code == 204
        assert (await http.patch(f"{url}/enable", headers=world.owner.auth)).status_code == 204

    assert problem(await http.post(f"{user.auth_base}/verify-email", json={"token": confirm})) == INVALID
    assert (await http.get(url, headers=world.owner.auth)).json()["email"] == user.email
