"""Magic links: off by default; the same answer, cost and limits whether or not the account exists; a single-use
link valid 15 minutes, bound to its environment, stored as a digest; following it signs in through the sign-in
core, so an account with a second factor is asked for it. Emails are read from a real SMTP server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.app import create_app
from sump.db.base import utcnow
from sump.db.tables.links import AccountToken
from sump.db.tables.outbox import OutboxMessage
from sump.db.tables.sessions import Session
from sump.factors import totp
from sump.kit.crypto import token_digest
from tests.factors.conftest import Clock, enrol_totp
from tests.factors.test_passkeys import PASSKEYS, a_passkey_sign_in_ended_by, soft_passkey_user
from tests.links.conftest import delivered, events, link_in, text_of
from tests.mail import SmtpServer
from tests.support import (
    PASSWORD,
    Database,
    EndUser,
    TenantWorld,
    assert_gone_with_its_sessions,
    bearer,
    make_settings,
    new_tenant,
    sign_in_while,
    within_one_window_of_the_clock,
)

SUBJECT = "Your sign-in link"
TOLD = "Your sign-in link secured your account"
INVALID = (400, "invalid_token")
ANSWER = {"message": "If an account exists with this identifier, a sign-in link has been sent."}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(totp, "now", frozen)
    return frozen


def code(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("code")


async def enabled_environment(world: TenantWorld) -> str:
    return await world.add_environment(settings={"magicLinksEnabled": True, "emailVerification": False})


async def ask(http: httpx.AsyncClient, user: EndUser, **identifier: str) -> httpx.Response:
    return await http.post(f"{user.auth_base}/magic-link", json=identifier or {"email": user.email})


async def follow(http: httpx.AsyncClient, user: EndUser, token: str) -> httpx.Response:
    return await http.post(f"{user.auth_base}/magic-link/sign-in", json={"token": token})


async def sent_a_link(http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer) -> tuple[TenantWorld, EndUser, str]:
    """A new tenant's end user who asked for a magic link, and the token of the link delivered."""
    world = await new_tenant(http)
    user = await world.add_end_user(await enabled_environment(world))
    await ask(http, user)
    return world, user, link_in(await delivered(mail_app, smtp, user.email, SUBJECT))[3]


async def test_magic_links_are_off_by_default(http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    assert code(await ask(http, user)) == (403, "magic_links_disabled")
    assert code(await follow(http, user, "x" * 43)) == (403, "magic_links_disabled")
    await mail_app.state.outbox.run_once()
    assert smtp.inbox.to(user.email) == []


async def test_a_magic_link_signs_in_once(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(await enabled_environment(world))
    asked = await ask(http, user)
    assert asked.status_code == 200
    assert asked.json() == ANSWER
    message = await delivered(mail_app, smtp, user.email, SUBJECT)
    assert message.get_body(("html",)) is not None
    page, family, context, token = link_in(message)
    assert (page, family, context) == ("magic-link", "environment", user.environment_id)
    stored = await db.scalar(select(AccountToken).where(AccountToken.token_hash == token_digest(token)))
    assert stored is not None, "stored as its digest"
    assert stored.expires_at - stored.created_at == timedelta(minutes=15)
    sent = await db.scalars(select(OutboxMessage).where(OutboxMessage.template == "magic_link"))
    assert all(token not in str(row.payload) for row in sent), "a sent email keeps no link at rest"

    signed = await follow(http, user, token)
    assert signed.status_code == 200, signed.text
    assert signed.json()["accountId"] == user.account_id
    assert "sump_session" in signed.headers["set-cookie"]
    me = await http.get(f"{user.auth_base}/session", headers={"Authorization": f"Bearer {signed.json()['token']}"})
    assert me.status_code == 200
    session = await db.scalar(select(Session).where(Session.id == uuid.UUID(signed.json()["session"]["id"])))
    assert session is not None
    assert session.amr == ["email"]
    assert code(await follow(http, user, token)) == INVALID
    account = await http.get(
        f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}", headers=world.owner.auth
    )
    assert account.json()["emailVerified"] is True, "the link proves the address"
    [event] = await events(db, "login.succeeded", target_id=user.account_id, actor_id=user.account_id)
    assert event.details["method"] == "magic_link"
    assert token not in str(event.details)


async def test_unknown_accounts_get_the_same_answer_and_limits(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(await enabled_environment(world))
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    known = [await ask(http, user) for _ in range(5)]
    unknown = [await ask(http, user, email=nobody) for _ in range(5)]
    shapes = {
        (answer.status_code, answer.text, answer.headers["content-type"], answer.headers.get("content-length"))
        for answer in known + unknown
    }
    assert len(shapes) == 1, shapes
    await mail_app.state.outbox.run_once()
    assert len(smtp.inbox.to(user.email)) == 3, "3 links per identifier in 15 minutes, then nothing"
    assert smtp.inbox.to(nobody) == []


async def test_links_are_capped_per_account_whatever_identifier_names_it(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Mail bombing: naming one account by its email, then by its username (3 times each, each under its
    identifier's cap) mails it 3 links in 15 minutes, not 6; every answer is the same."""
    world = await new_tenant(http)
    user = await world.add_end_user(await enabled_environment(world))
    bodies = [{"email": user.email}, {"username": user.username}]
    answers = [await ask(http, user, **body) for body in bodies for _ in range(3)]
    assert {(answer.status_code, answer.text) for answer in answers} == {(200, answers[0].text)}
    await mail_app.state.outbox.run_once()
    assert [message["Subject"] for message in smtp.inbox.to(user.email)] == [SUBJECT] * 3


async def test_requests_are_limited_per_address(database: Database) -> None:
    app = create_app(make_settings(database, rate_limits=True))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.31", 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
            world = await new_tenant(http)
            user = await world.add_end_user(await enabled_environment(world))
            await within_one_window_of_the_clock(5)
            answers = [(await ask(http, user, email=f"someone-{n}@example.com")).status_code for n in range(10)] + [
                (await ask(http, user)).status_code
            ]
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()
    assert answers == [200] * 10 + [429]


async def test_a_magic_link_expires_and_works_only_in_its_environment(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(await enabled_environment(world))
    other = await enabled_environment(world)
    await ask(http, user)
    token = link_in(await delivered(mail_app, smtp, user.email, SUBJECT))[3]
    elsewhere = await http.post(f"/api/v1/auth/environments/{other}/magic-link/sign-in", json={"token": token})
    assert code(elsewhere) == INVALID
    await db.execute(
        update(AccountToken)
        .where(AccountToken.token_hash == token_digest(token))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    assert code(await follow(http, user, token)) == INVALID


async def test_concurrent_sign_ins_with_one_link_have_one_winner(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    _, user, token = await sent_a_link(http, mail_app, smtp)
    answers = await asyncio.gather(*(follow(http, user, token) for _ in range(10)))
    assert [answer.status_code for answer in answers].count(200) == 1, [answer.text for answer in answers]
    assert all(code(answer) == INVALID for answer in answers if answer.status_code != 200)


async def test_a_new_link_replaces_the_earlier_one(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(await enabled_environment(world))
    await ask(http, user)
    first = link_in(await delivered(mail_app, smtp, user.email, SUBJECT))[3]
    await ask(http, user)
    second = link_in(await delivered(mail_app, smtp, user.email, SUBJECT, count=2))[3]
    assert code(await follow(http, user, first)) == INVALID
    assert (await follow(http, user, second)).status_code == 200


async def test_the_second_factor_is_still_asked_after_a_magic_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, clock: Clock
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(await enabled_environment(world))
    seed, _, _ = await enrol_totp(http, user.auth_base, user.token, clock)
    account = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    assert (await http.post(f"{account}/email-verified", headers=world.owner.auth)).status_code == 204
    await ask(http, user)
    token = link_in(await delivered(mail_app, smtp, user.email, SUBJECT))[3]
    first = await follow(http, user, token)
    assert first.status_code == 202, first.text
    assert "set-cookie" not in first.headers
    assert "token" not in first.json()
    assert "totp" in first.json()["factors"]
    second = await http.post(
        f"{user.auth_base}/login/factor",
        json={"challenge": first.json()["challenge"], "factor": "totp", "code": clock.code(seed)},
    )
    assert second.status_code == 200, second.text
    me = await http.get(f"{user.auth_base}/session", headers={"Authorization": f"Bearer {second.json()['token']}"})
    assert me.json()["amr"] == ["email", "otp", "mfa"]


async def test_a_disabled_account_gets_no_link(http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(await enabled_environment(world))
    disabled = await http.patch(
        f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/disable", headers=world.owner.auth
    )
    assert disabled.status_code == 204
    assert (await ask(http, user)).json() == ANSWER
    await mail_app.state.outbox.run_once()
    assert smtp.inbox.to(user.email) == []


async def test_a_link_of_an_account_disabled_since_signs_no_one_in(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world, user, token = await sent_a_link(http, mail_app, smtp)
    disabled = await http.patch(
        f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/disable", headers=world.owner.auth
    )
    assert disabled.status_code == 204
    assert code(await follow(http, user, token)) == INVALID


async def test_an_account_deleted_while_its_link_signs_it_in_goes_with_that_session(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sign-in holds its link's row: the deletion ends the account's links before its row, so it waits for
    that sign-in instead of a circle of the two (`tests/factors/test_ended_while_signing_in.py`). The address
    is verified, so the link's sign-in writes nothing of the account's row before its session."""
    world, user, token = await sent_a_link(http, mail_app, smtp)
    admin = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    assert (await http.post(f"{admin}/email-verified", headers=world.owner.auth)).status_code == 204

    signed_in, deleted = await sign_in_while(
        http,
        db,
        monkeypatch,
        (f"{user.auth_base}/magic-link/sign-in", {"token": token}),
        lambda: http.delete(admin, headers=world.owner.auth),
    )

    await assert_gone_with_its_sessions(http, db, user.account_id, signed_in, deleted)


async def test_a_link_sent_before_the_address_changed_signs_no_one_in(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """The link proves the address it was sent to, which is no longer the account's."""
    world, user, token = await sent_a_link(http, mail_app, smtp)
    moved = await http.patch(
        f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/email",
        json={"email": f"moved-{uuid.uuid4().hex[:8]}@example.com"},
        headers=world.owner.auth,
    )
    assert moved.status_code == 204
    assert code(await follow(http, user, token)) == INVALID


async def test_a_link_of_another_purpose_is_no_sign_in_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """The cancel link of an email change reaches the same inbox as a magic link: it signs no one in."""
    world = await new_tenant(http)
    user = await world.add_end_user(await enabled_environment(world))
    change = {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "currentPassword": PASSWORD}
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/email"
    assert (await http.patch(url, json=change, headers=user.auth)).status_code == 202
    cancel = link_in(await delivered(mail_app, smtp, user.email, "Your email address is about to change"))[3]
    assert code(await follow(http, user, cancel)) == INVALID
    kept = await http.post(f"{user.auth_base}/cancel-email-change", json={"token": cancel})
    assert kept.status_code == 200, "the refused sign-in did not use the link up"


async def test_a_link_ends_when_the_account_is_disabled_for_good(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """Enabled again, the account's earlier link signs no one in: it is gone, not only refused."""
    world, user, token = await sent_a_link(http, mail_app, smtp)
    account = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    assert (await http.patch(f"{account}/disable", headers=world.owner.auth)).status_code == 204
    assert (await http.patch(f"{account}/enable", headers=world.owner.auth)).status_code == 204
    assert code(await follow(http, user, token)) == INVALID
    assert await db.scalar(select(AccountToken).where(AccountToken.token_hash == token_digest(token))) is None


async def test_a_new_password_or_address_ends_the_links_sent_before(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """A link sent before the account's password or email changed is deleted with the change: a new password
    ends every way in but the session that set it."""
    for change in ("password", "email"):
        world, user, token = await sent_a_link(http, mail_app, smtp)
        if change == "password":
            body = {"currentPassword": PASSWORD, "newPassword": "a completely new passphrase"}
            changed = await http.post(f"{user.auth_base}/change-password", json=body, headers=user.auth)
        else:
            changed = await http.patch(
                f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/email",
                json={"email": f"moved-{uuid.uuid4().hex[:8]}@example.com"},
                headers=world.owner.auth,
            )
        assert changed.status_code == 204, change
        assert await db.scalar(select(AccountToken).where(AccountToken.token_hash == token_digest(token))) is None
        assert code(await follow(http, user, token)) == INVALID


async def test_a_link_signing_in_while_a_new_password_is_set_gets_no_session_that_outlasts_it(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sign-in holds its link's row when the owner sets a new password. The change ends the links before the
    sessions, so it waits for that sign-in and then ends the session it wrote; only the owner's own stays."""
    world, user, token = await sent_a_link(http, mail_app, smtp)
    admin = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    assert (await http.post(f"{admin}/email-verified", headers=world.owner.auth)).status_code == 204
    body = {"currentPassword": PASSWORD, "newPassword": "a completely new passphrase"}

    signed_in, changed = await sign_in_while(
        http,
        db,
        monkeypatch,
        (f"{user.auth_base}/magic-link/sign-in", {"token": token}),
        lambda: http.post(f"{user.auth_base}/change-password", json=body, headers=user.auth),
    )

    assert changed.status_code == 204, changed.text
    assert signed_in.status_code == 200, signed_in.text
    ended = await http.get(f"{user.auth_base}/session", headers=bearer(signed_in.json()["token"]))
    assert (ended.status_code, ended.json()["code"]) == (401, "unauthenticated")
    assert (await http.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 200


async def test_links_turned_off_after_the_request_send_nothing_and_sign_no_one_in(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """An environment that turns magic links off before the outbox runs sends no link for a request it answered,
    and a link sent while they were on signs no one in once they are off (403 before the token is read)."""
    world = await new_tenant(http)
    environment = await enabled_environment(world)
    asked, sent = await world.add_end_user(environment), await world.add_end_user(environment)
    await ask(http, sent)
    token = link_in(await delivered(mail_app, smtp, sent.email, SUBJECT))[3]
    assert (await ask(http, asked)).json() == ANSWER
    settings = {"settings": {"magicLinksEnabled": False}}
    turned_off = await http.patch(f"{world.base}/environments/{environment}", json=settings, headers=world.owner.auth)
    assert turned_off.status_code == 204, turned_off.text
    await mail_app.state.outbox.run_once()
    assert [message["Subject"] for message in smtp.inbox.to(asked.email)] == []
    refused = await follow(http, sent, token)
    assert (code(refused), refused.json()["detail"]) == (
        (403, "magic_links_disabled"),
        "Sign-in links are turned off for this environment.",
    )


async def test_a_verification_link_is_no_sign_in_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """The link a sign-up sends to verify the address reaches the same inbox as a magic link: it signs no one in,
    and the refused sign-in does not use it up."""
    world = await new_tenant(http)
    environment = await world.add_environment(settings={"magicLinksEnabled": True, "emailVerification": True})
    user = await world.add_end_user(environment)
    verify = link_in(await delivered(mail_app, smtp, user.email, "Verify your email address"), "verify-email")[3]
    refused = await follow(http, user, verify)
    assert code(refused) == INVALID
    assert "set-cookie" not in refused.headers
    verified = await http.post(f"{user.auth_base}/verify-email", json={"token": verify})
    assert verified.status_code == 200, "the refused sign-in did not use the link up"


async def test_a_link_that_proves_an_unverified_address_ends_the_password_and_sessions_set_before(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """Someone signs up with another's address (never verified), keeps its password and a session, and asks to
    move the account to an address of their own; the address's owner signs in with a magic link, which proves
    the mailbox is theirs: whatever was set up before it may be the squatter's, so the password, every earlier
    session and the email change in progress end, and the owner's session stands."""
    world = await new_tenant(http)
    squatter = await world.add_end_user(await enabled_environment(world))
    account = f"/api/v1/environments/{squatter.environment_id}/accounts/{squatter.account_id}"
    move = {"email": "squatter@example.net", "currentPassword": squatter.password}
    assert (await http.patch(f"{account}/email", json=move, headers=squatter.auth)).status_code == 202
    confirm = link_in(await delivered(mail_app, smtp, "squatter@example.net", "Confirm your new email address"))[3]
    await ask(http, squatter)
    token = link_in(await delivered(mail_app, smtp, squatter.email, SUBJECT))[3]

    owner = await follow(http, squatter, token)

    assert owner.status_code == 200, owner.text
    assert (await http.get(f"{squatter.auth_base}/session", headers=squatter.auth)).status_code == 401
    login = await http.post(f"{squatter.auth_base}/login", json=squatter.credentials)
    assert code(login) == (401, "invalid_credentials")
    assert code(await http.post(f"{squatter.auth_base}/verify-email", json={"token": confirm})) == INVALID
    assert (await http.get(account, headers=world.owner.auth)).json()["email"] == squatter.email
    mine = {"Authorization": f"Bearer {owner.json()['token']}"}
    assert (await http.get(f"{squatter.auth_base}/session", headers=mine)).status_code == 200
    [event] = await events(db, "login.link_verified_email", target_id=squatter.account_id)
    assert event.details == {"factors_removed": 0, "password_removed": True}


async def test_a_link_that_proves_an_unverified_address_removes_the_factors_set_before(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, clock: Clock
) -> None:
    """The squatter's second factor (a passkey would sign them in alone) goes too, as after a password reset
    that proves the mailbox: the owner is signed in by the link and told by email."""
    world = await new_tenant(http)
    squatter = await world.add_end_user(await enabled_environment(world))
    await enrol_totp(http, squatter.auth_base, squatter.token, clock)
    await ask(http, squatter)
    token = link_in(await delivered(mail_app, smtp, squatter.email, SUBJECT))[3]

    owner = await follow(http, squatter, token)

    assert owner.status_code == 200, owner.text
    listed = await http.get(
        f"{squatter.auth_base}/me/factors", headers={"Authorization": f"Bearer {owner.json()['token']}"}
    )
    assert listed.json() == {"factors": [], "recoveryCodesLeft": 0}
    told = " ".join(text_of(await delivered(mail_app, smtp, squatter.email, TOLD)).split())
    assert "before that was removed, since someone else may have set it up with your address" in told
    assert "its password and its second factors (authenticator apps, passkeys and recovery codes)" in told


async def test_a_link_proving_the_address_while_a_passkey_of_the_account_signs_in_ends_that_session(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The squatter's passkey signs in (its row held) while the owner's link proves the address. The link's sign-in
    removes the factors before it writes the account's row, in a sign-in's order, so it waits for the passkey's
    sign-in and then ends its session, instead of a circle of the two that PostgreSQL would end."""
    world = await new_tenant(http)
    settings = {"magicLinksEnabled": True, "emailVerification": False, **PASSKEYS}
    squatter, key = await soft_passkey_user(http, world, await world.add_environment(settings=settings))
    await ask(http, squatter)
    token = link_in(await delivered(mail_app, smtp, squatter.email, SUBJECT))[3]

    owner = await a_passkey_sign_in_ended_by(
        http, db, monkeypatch, squatter, key, lambda: follow(http, squatter, token)
    )

    listed = await http.get(f"{squatter.auth_base}/me/factors", headers=bearer(owner.json()["token"]))
    assert listed.json() == {"factors": [], "recoveryCodesLeft": 0}


async def test_a_link_to_a_verified_address_keeps_the_password_and_sessions(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Where the address was proven before, a magic link is one more way in, nothing else."""
    world, user, token = await sent_a_link(http, mail_app, smtp)
    account = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    assert (await http.post(f"{account}/email-verified", headers=world.owner.auth)).status_code == 204

    assert (await follow(http, user, token)).status_code == 200

    assert (await http.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 200
    assert (await http.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 200
