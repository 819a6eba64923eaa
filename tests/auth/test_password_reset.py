"""Password reset for both families, delivered through the outbox to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Coroutine
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.accounts import repository as accounts_repository
from sump.accounts import reset as reset_module
from sump.app import create_app
from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.outbox import OutboxMessage, OutboxStatus
from sump.db.tables.reset_tokens import PasswordResetToken
from sump.db.tables.tenant_accounts import TenantAccount
from sump.kit.crypto import token_digest
from tests.hosted.support import CSRF
from tests.mail import HOSTED_LINK, LINK, SmtpServer, reset_token
from tests.support import PASSWORD, Database, EndUser, bearer, during, make_settings, new_tenant

NEW_PASSWORD = "a completely new passphrase"


@pytest.fixture
async def http(mail_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mail_app, raise_app_exceptions=False, client=("203.0.113.9", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as client:
        yield client


@pytest.mark.asvs("RST-01", "RST-02", "RST-03", "RST-09", "SESS-06", "AUTH-08")
async def test_end_user_resets_password_through_a_real_email(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    base = f"/api/v1/auth/environments/{world.environment_id}"

    forgot = await http.post(f"{base}/forgot-password", json={"email": user.email})
    assert forgot.status_code == 200
    assert forgot.json() == {"message": "If an account exists with this identifier, a reset link has been sent."}
    assert await mail_app.state.outbox.run_once() >= 1

    [message] = smtp.inbox.to(user.email)
    assert message["Subject"] == "Reset your password"
    assert message.get_body(("html",)) is not None
    token = reset_token(message)
    stored = await db.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token)))
    assert stored is not None, "the token is stored as its digest"

    reset = await http.post(f"{base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert reset.status_code == 200
    assert reset.json() == {
        "success": True,
        "message": "Password has been reset successfully. Please log in with your new password.",
    }
    assert "set-cookie" not in reset.headers
    assert (await http.get(f"{base}/session", headers=bearer(user.token))).status_code == 401
    again = await http.post(f"{base}/reset-password", json={"token": token, "newPassword": "yet another passphrase"})
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_token"
    old = await http.post(f"{base}/login", json={"email": user.email, "password": PASSWORD})
    new = await http.post(f"{base}/login", json={"username": user.username, "password": NEW_PASSWORD})
    assert (old.status_code, new.status_code) == (401, 200)

    await mail_app.state.outbox.run_once()
    assert [m["Subject"] for m in smtp.inbox.to(user.email)] == ["Reset your password", "Your password was changed"]
    sent = await db.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT))
    assert all(token not in str(row.payload) for row in sent), "sent messages keep no token at rest"


async def test_tenant_account_resets_password(http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer) -> None:
    """Accounts created without a password get one this way (the original's reset never worked)."""
    world = await new_tenant(http)
    created = await http.post(
        f"{world.base}/accounts",
        json={"name": "No Password", "email": "nopass@example.com", "username": "nopass"},
        headers=world.owner.auth,
    )
    assert created.status_code == 201
    base = f"/api/v1/auth/tenants/{world.tenant_id}"
    assert (await http.post(f"{base}/forgot-password", json={"username": "NoPass"})).status_code == 200
    await mail_app.state.outbox.run_once()
    [message] = smtp.inbox.to("nopass@example.com")
    link = LINK.search(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert link is not None
    assert link.group(1, 2) == ("tenant", world.tenant_id)
    reset = await http.post(f"{base}/reset-password", json={"token": link.group(3), "newPassword": NEW_PASSWORD})
    assert reset.status_code == 200
    login = await http.post(f"{base}/login", json={"email": "nopass@example.com", "password": NEW_PASSWORD})
    assert login.status_code == 200


@pytest.mark.asvs("RST-02")
async def test_token_only_works_in_its_own_pool(http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer) -> None:
    world = await new_tenant(http)
    other = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    await http.post(f"/api/v1/auth/environments/{world.environment_id}/forgot-password", json={"email": user.email})
    await mail_app.state.outbox.run_once()
    token = reset_token(smtp.inbox.to(user.email)[0])
    body = {"token": token, "newPassword": NEW_PASSWORD}
    elsewhere = [
        f"/api/v1/auth/environments/{other.environment_id}/reset-password",
        f"/api/v1/auth/tenants/{world.tenant_id}/reset-password",
    ]
    for url in elsewhere:
        response = await http.post(url, json=body)
        assert response.status_code == 400, url
    own = await http.post(f"/api/v1/auth/environments/{world.environment_id}/reset-password", json=body)
    assert own.status_code == 200


@pytest.mark.asvs("RST-04", "RST-05", "RST-10")
async def test_new_request_replaces_token_and_weak_password_keeps_it(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    base = f"/api/v1/auth/environments/{world.environment_id}"
    for _ in range(2):
        await http.post(f"{base}/forgot-password", json={"email": user.email})
        await mail_app.state.outbox.run_once()
    first, second = (reset_token(message) for message in smtp.inbox.to(user.email))
    assert (await http.post(f"{base}/login", json={"email": user.email, "password": PASSWORD})).status_code == 200
    stale = await http.post(f"{base}/reset-password", json={"token": first, "newPassword": NEW_PASSWORD})
    assert stale.status_code == 400
    weak = await http.post(f"{base}/reset-password", json={"token": second, "newPassword": "password"})
    assert weak.status_code == 400
    assert weak.json()["code"] == "password_too_common"
    fine = await http.post(f"{base}/reset-password", json={"token": second, "newPassword": NEW_PASSWORD})
    assert fine.status_code == 200


@pytest.mark.asvs("RST-04")
async def test_expired_token_is_refused(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    base = f"/api/v1/auth/environments/{world.environment_id}"
    await http.post(f"{base}/forgot-password", json={"email": user.email})
    await mail_app.state.outbox.run_once()
    token = reset_token(smtp.inbox.to(user.email)[0])
    await db.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.token_hash == token_digest(token))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    response = await http.post(f"{base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert response.status_code == 400


@pytest.mark.asvs("RST-08")
async def test_reset_requests_per_identifier_are_capped(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    base = f"/api/v1/auth/environments/{world.environment_id}"
    answers = [(await http.post(f"{base}/forgot-password", json={"email": user.email})).json() for _ in range(5)]
    assert len({str(answer) for answer in answers}) == 1
    await mail_app.state.outbox.run_once()
    assert len(smtp.inbox.to(user.email)) == 3


@pytest.mark.asvs("RST-08")
async def test_reset_emails_are_capped_per_account_whatever_identifier_names_it(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Mail bombing: naming one account by its email, then its username, then its phone (3 times each, each
    under its identifier's cap) mails it 3 reset links in 15 minutes, not 9; every answer is the same."""
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    account = f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}"
    phone = {"phone": "+14155550142"}
    assert (await http.patch(f"{account}/phone", json=phone, headers=world.owner.auth)).status_code == 204
    bodies = [{"email": user.email}, {"username": user.username}, phone]
    answers = [await http.post(f"{user.auth_base}/forgot-password", json=body) for body in bodies for _ in range(3)]
    assert {(answer.status_code, answer.text) for answer in answers} == {(200, answers[0].text)}
    await mail_app.state.outbox.run_once()
    resets = [message for message in smtp.inbox.to(user.email) if message["Subject"] == "Reset your password"]
    assert len(resets) == 3


@pytest.mark.asvs("REL-03")
async def test_emails_wait_for_the_smtp_server_and_arrive_exactly_once(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    users = [await world.add_end_user(world.environment_id) for _ in range(3)]
    smtp.stop()
    for user in users:
        await http.post(f"/api/v1/auth/environments/{world.environment_id}/forgot-password", json={"email": user.email})
    assert await mail_app.state.outbox.run_once() == 0
    pending = list(await db.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.QUEUED)))
    assert any(row.attempts == 1 and row.last_error for row in pending)

    smtp.start()
    await mail_app.state.outbox.run_once()
    assert not any(smtp.inbox.to(user.email) for user in users), "not due yet: a retry waits for its backoff"
    await mail_app.state.outbox.run_once(now=utcnow() + timedelta(minutes=2))
    await mail_app.state.outbox.run_once(now=utcnow() + timedelta(minutes=10))
    for user in users:
        assert len(smtp.inbox.to(user.email)) == 1, user.email


@pytest.mark.asvs("RST-04")
async def test_token_expires_one_hour_after_it_is_issued(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    await http.post(f"{user.auth_base}/forgot-password", json={"email": user.email})
    issued = utcnow()

    assert await mail_app.state.outbox.run_once(now=issued) >= 1

    token = reset_token(smtp.inbox.to(user.email)[0])
    stored = await db.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token)))
    assert stored is not None
    assert (stored.created_at, stored.expires_at, stored.used_at) == (issued, issued + timedelta(hours=1), None)


async def reset_mail_of(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, family: str
) -> tuple[str, EmailMessage, str, uuid.UUID]:
    """The reset email freshly sent to a new account of `family`: (the family's auth base, the message, the
    account's address and id)."""
    world = await new_tenant(http)
    if family == "tenant":
        member = await world.add_member("user")
        base, email, account_id = f"/api/v1/auth/tenants/{world.tenant_id}", member.email, member.account_id
    else:
        user = await world.add_end_user()
        base, email, account_id = user.auth_base, user.email, user.account_id
    assert (await http.post(f"{base}/forgot-password", json={"email": email})).status_code == 200
    assert await mail_app.state.outbox.run_once() >= 1
    return base, smtp.inbox.to(email)[0], email, uuid.UUID(account_id)


async def reset_token_of(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, family: str
) -> tuple[str, str, uuid.UUID]:
    """A reset token freshly mailed to a new account of `family`: (the family's auth base, token, account id)."""
    base, message, _, account_id = await reset_mail_of(http, mail_app, smtp, family)
    return base, reset_token(message), account_id


async def password_hash(db: AsyncSession, family: str, account_id: uuid.UUID) -> str | None:
    if family == "tenant":
        return await db.scalar(select(TenantAccount.password_hash).where(TenantAccount.id == account_id))
    return await db.scalar(select(EnvironmentAccount.password_hash).where(EnvironmentAccount.id == account_id))


@pytest.mark.asvs("RST-03", "REL-04")
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_twenty_concurrent_redemptions_of_one_token_have_one_winner(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, family: str
) -> None:
    base, token, account_id = await reset_token_of(http, mail_app, smtp, family)
    passwords = [f"the new passphrase number {i:02d}" for i in range(20)]

    responses = await asyncio.gather(
        *(http.post(f"{base}/reset-password", json={"token": token, "newPassword": new}) for new in passwords)
    )

    answers = [(response.status_code, response.json().get("code")) for response in responses]
    winners = [index for index, response in enumerate(responses) if response.status_code == 200]
    assert len(winners) == 1, answers
    losers = {answer for index, answer in enumerate(answers) if index not in winners}
    assert losers <= {(400, "invalid_token"), (503, "overloaded")}, answers
    stored = await password_hash(db, family, account_id)
    hasher = mail_app.state.hasher
    matches = [new for new in passwords if (await hasher.verify(stored, new))[0]]
    assert matches == [passwords[winners[0]]]
    spent = select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token))
    assert await db.scalar(spent) is None, "deleted with the password it set"
    again = await http.post(f"{base}/reset-password", json={"token": token, "newPassword": "one more new passphrase"})
    assert (again.status_code, again.json()["code"]) == (400, "invalid_token")


async def test_a_reset_link_from_before_a_password_change_no_longer_works(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """Whoever holds a reset link sent before the account changed its password cannot undo that change."""
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    base = f"/api/v1/auth/environments/{world.environment_id}"
    assert (await http.post(f"{base}/forgot-password", json={"email": user.email})).status_code == 200
    await mail_app.state.outbox.run_once()
    [message] = smtp.inbox.to(user.email)
    token = reset_token(message)
    change = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    assert (await http.post(f"{base}/change-password", json=change, headers=bearer(user.token))).status_code == 204

    stored = select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token))
    assert await db.scalar(stored) is None, "deleted with the change"
    refused = await http.post(f"{base}/reset-password", json={"token": token, "newPassword": "yet another passphrase"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_token"
    kept = await http.post(f"{base}/login", json={"email": user.email, "password": NEW_PASSWORD})
    assert kept.status_code == 200


async def reset_in_flight(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, user: EndUser
) -> tuple[Coroutine[Any, Any, httpx.Response], str]:
    """A redemption of the end user's reset link, not yet sent, and the password it sets."""
    assert (await http.post(f"{user.auth_base}/forgot-password", json={"email": user.email})).status_code == 200
    await mail_app.state.outbox.run_once()
    [message] = [message for message in smtp.inbox.to(user.email) if message["Subject"] == "Reset your password"]
    redeem = {"token": reset_token(message), "newPassword": "the reset's own passphrase"}
    return http.post(f"{user.auth_base}/reset-password", json=redeem), redeem["newPassword"]


def assert_refused_for_the_reset(db: AsyncSession, changed: httpx.Response) -> None:
    """A change that checked the current password while a reset replaced it: 403 `wrong_password`, as it would be a
    moment later; on SQLite (one writer at a time) it may also come after the reset, whose new password ended its
    session (401)."""
    refused = {(403, "wrong_password")}
    if db.get_bind().dialect.name == "sqlite":
        refused.add((401, "unauthenticated"))
    assert (changed.status_code, changed.json()["code"]) in refused, changed.text


async def test_a_password_change_meeting_a_reset_being_redeemed_waits_for_it_and_is_refused(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reset holds its token's row, then writes the account's. A change of the password ends the account's
    links and reset tokens before it holds the account's row (a sign-in's order, `accounts.removal`), with its new
    hash computed before either: it waits for the reset, then finds the password it checked replaced (403) and its
    session ended. Neither waits for the other in a circle."""
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    reset, password = await reset_in_flight(http, mail_app, smtp, user)
    change = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}

    redeemed, changed = await during(
        reset,
        (reset_module, "set_password"),
        lambda: http.post(f"{user.auth_base}/change-password", json=change, headers=bearer(user.token)),
        db,
        monkeypatch,
    )

    assert redeemed.status_code == 200, redeemed.text
    assert_refused_for_the_reset(db, changed)
    assert (await http.get(f"{user.auth_base}/session", headers=bearer(user.token))).status_code == 401
    signed_in = await http.post(f"{user.auth_base}/login", json={"email": user.email, "password": password})
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.parametrize("field", ["phone", "email"])
async def test_an_admins_change_of_an_address_meeting_a_reset_being_redeemed_waits_for_it(
    http: httpx.AsyncClient,
    mail_app: FastAPI,
    smtp: SmtpServer,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
) -> None:
    """A new email or phone ends the account's reset tokens and links before it writes the account's row (a
    sign-in's order, `accounts.removal`): an admin's change waits for a reset that holds its token and is about to
    write the row, and both go through, where each waited for the other before."""
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    reset, password = await reset_in_flight(http, mail_app, smtp, user)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/{field}"
    value = {"phone": "+14155550123", "email": "elsewhere@example.com"}[field]

    redeemed, changed = await during(
        reset,
        (reset_module, "set_password"),
        lambda: http.patch(url, json={field: value}, headers=world.owner.auth),
        db,
        monkeypatch,
    )

    assert redeemed.status_code == 200, redeemed.text
    assert changed.status_code == 204, changed.text
    account = await db.get(EnvironmentAccount, uuid.UUID(user.account_id), populate_existing=True)
    assert account is not None
    assert getattr(account, field) == value
    signed_in = await http.post(f"{user.auth_base}/login", json={field: value, "password": password})
    assert signed_in.status_code == 200, signed_in.text


async def test_an_own_phone_change_meeting_a_reset_being_redeemed_waits_for_it_and_is_refused(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One's own new phone checks the current password, then ends the account's reset tokens and links before
    it holds the account's row: it waits for the reset, then finds the password it checked replaced (403),
    and the phone stays as it was."""
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    reset, password = await reset_in_flight(http, mail_app, smtp, user)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/phone"
    change = {"phone": "+14155550124", "currentPassword": PASSWORD}

    redeemed, changed = await during(
        reset,
        (reset_module, "set_password"),
        lambda: http.patch(url, json=change, headers=bearer(user.token)),
        db,
        monkeypatch,
    )

    assert redeemed.status_code == 200, redeemed.text
    assert_refused_for_the_reset(db, changed)
    account = await db.get(EnvironmentAccount, uuid.UUID(user.account_id), populate_existing=True)
    assert account is not None
    assert account.phone != change["phone"]
    signed_in = await http.post(f"{user.auth_base}/login", json={"email": user.email, "password": password})
    assert signed_in.status_code == 200, signed_in.text


async def test_an_own_phone_change_to_the_same_number_ends_no_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Only a new number ends the account's reset links: the same one sent again changes nothing."""
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    url = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/phone"
    phone = "+14155550125"
    assert (await http.patch(url, json={"phone": phone}, headers=world.owner.auth)).status_code == 204
    reset, password = await reset_in_flight(http, mail_app, smtp, user)
    same = await http.patch(url, json={"phone": phone, "currentPassword": PASSWORD}, headers=bearer(user.token))
    assert same.status_code == 204, same.text
    assert (await reset).status_code == 200
    signed_in = await http.post(f"{user.auth_base}/login", json={"email": user.email, "password": password})
    assert signed_in.status_code == 200, signed_in.text


async def test_a_new_passwords_hash_is_computed_with_no_row_of_the_account_held(
    http: httpx.AsyncClient, mail_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash takes tens of milliseconds of a core: the change computes the new password's before it holds the
    account's row (PostgreSQL) or the database (SQLite, whose first write takes it)."""
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    postgres = mail_app.state.engine.dialect.name == "postgresql"
    holding: list[str] = []
    held_while_hashing: list[list[str]] = []
    hash_new = mail_app.state.hasher.hash

    async def hashing(password: str) -> str:
        held_while_hashing.append(list(holding))
        hashed: str = await hash_new(password)
        return hashed

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        text = " ".join(statement.split())
        if (
            ("FOR NO KEY UPDATE" in text or "FOR UPDATE" in text)
            if postgres
            else text.startswith(("INSERT", "DELETE", "UPDATE environment_account"))
        ):
            holding.append(text)

    monkeypatch.setattr(mail_app.state.hasher, "hash", hashing)
    engine = mail_app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        change = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
        changed = await http.post(f"{user.auth_base}/change-password", json=change, headers=bearer(user.token))
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert changed.status_code == 204, changed.text
    assert held_while_hashing == [[]]
    assert holding, "the change holds what it writes once the hash is done"


async def test_a_reset_token_is_used_up_once_even_where_nothing_else_stops_a_second_use(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """A redemption marks its token used in one conditional UPDATE: the lookup before it skips used tokens and
    the reset deletes the token, but two redemptions past the lookup at once meet only here, so the second
    must find nothing to mark."""
    _, token, _ = await reset_token_of(http, mail_app, smtp, "environment")
    stored = await db.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token)))
    assert stored is not None
    assert await accounts_repository.consume_reset_token(db, stored.id, utcnow()) is True
    assert await accounts_repository.consume_reset_token(db, stored.id, utcnow()) is False
    await db.rollback()


async def test_a_reset_link_written_while_the_password_changed_cannot_undo_the_change(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """A forgotten-password request and a change of the password at the same instant: the change deletes the
    reset links it finds, and one written in a transaction not yet committed is not among them. The link is
    then older than the password, and refused for that (the row stands here as that race leaves it)."""
    base, message, email, account_id = await reset_mail_of(http, mail_app, smtp, "environment")
    changed = update(EnvironmentAccount).where(EnvironmentAccount.id == account_id)
    await db.execute(changed.values(password_changed_at=utcnow() + timedelta(seconds=1)))
    await db.commit()

    refused = await http.post(
        f"{base}/reset-password", json={"token": reset_token(message), "newPassword": NEW_PASSWORD}
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_token")
    kept = await http.post(f"{base}/login", json={"email": email, "password": PASSWORD})
    assert kept.status_code == 200, kept.text


@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_a_reset_link_ends_when_the_account_is_disabled_for_good(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, family: str
) -> None:
    """Enabled again, the account's earlier reset link sets no password: it is gone, not only refused."""
    world = await new_tenant(http)
    if family == "tenant":
        http.cookies.clear()  # the member signs in on a browser of its own, not on the owner's, which it would end
        member = await world.add_member("user")
        base, email, account_id = f"/api/v1/auth/tenants/{world.tenant_id}", member.email, member.account_id
        account = f"/api/v1/tenants/{world.tenant_id}/accounts/{account_id}"
    else:
        user = await world.add_end_user()
        base, email, account_id = user.auth_base, user.email, user.account_id
        account = f"/api/v1/environments/{user.environment_id}/accounts/{account_id}"
    assert (await http.post(f"{base}/forgot-password", json={"email": email})).status_code == 200
    await mail_app.state.outbox.run_once()
    token = reset_token(smtp.inbox.to(email)[0])
    assert (await http.patch(f"{account}/disable", headers=world.owner.auth)).status_code == 204
    assert (await http.patch(f"{account}/enable", headers=world.owner.auth)).status_code == 204
    stored = select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token))
    assert await db.scalar(stored) is None
    refused = await http.post(f"{base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_token")


@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_a_disabled_account_is_sent_no_reset_link_and_answered_alike(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, family: str
) -> None:
    """Whoever can still read a disabled account's mailbox gets no link that would set its password (and sign
    in once it is enabled again), and the answer does not tell a disabled account from any other."""
    world = await new_tenant(http)
    if family == "tenant":
        http.cookies.clear()  # the members sign in on browsers of their own, not on the owner's
        members = [await world.add_member("user") for _ in range(2)]
        base, emails = f"/api/v1/auth/tenants/{world.tenant_id}", [member.email for member in members]
        account = f"/api/v1/tenants/{world.tenant_id}/accounts/{members[0].account_id}"
    else:
        users = [await world.add_end_user(world.environment_id) for _ in range(2)]
        base, emails = users[0].auth_base, [user.email for user in users]
        account = f"/api/v1/environments/{world.environment_id}/accounts/{users[0].account_id}"
    disabled, enabled = emails
    assert (await http.patch(f"{account}/disable", headers=world.owner.auth)).status_code == 204

    answers = [
        await http.post(f"{base}/forgot-password", json={"email": email})
        for email in (disabled, enabled, f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    ]
    shapes = {(answer.status_code, answer.text, answer.headers["content-type"]) for answer in answers}
    assert shapes == {(200, answers[0].text, "application/json")}, shapes
    assert answers[0].json() == {"message": "If an account exists with this identifier, a reset link has been sent."}
    await mail_app.state.outbox.run_once()
    assert smtp.inbox.to(disabled) == []
    assert [message["Subject"] for message in smtp.inbox.to(enabled)] == ["Reset your password"]


@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_a_reset_link_of_an_account_disabled_since_sets_no_password(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, family: str
) -> None:
    """Disabling deletes the reset links stored, but one stored while the account was being disabled (the
    outbox read it enabled) outlives it: while the account is disabled, that link sets no password either."""
    base, token, account_id = await reset_token_of(http, mail_app, smtp, family)
    model = TenantAccount if family == "tenant" else EnvironmentAccount
    await db.execute(update(model).where(model.id == account_id).values(disabled=True))
    await db.commit()
    before = await password_hash(db, family, account_id)

    refused = await http.post(f"{base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert (refused.status_code, refused.json().get("code")) == (400, "invalid_token")
    assert await password_hash(db, family, account_id) == before


# Every header a client or a proxy may use to say which host it asked for.
HOSTILE_HOST = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Port": "8443",
    "X-Original-Host": "evil.example",
    "Forwarded": "for=198.51.100.4;host=evil.example;proto=https",
}
URL = re.compile(r"""https?://[^\s"'<>]+""")


@pytest.fixture
async def proxied_http(database: Database, smtp: SmtpServer) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """`mail_app`'s application with the client's address as a trusted proxy: whatever a proxy says is believed
    as far as Sump believes a proxy."""
    app = create_app(
        make_settings(
            database, email_backend="smtp", smtp_url=f"smtp://127.0.0.1:{smtp.port}", trusted_proxies=["203.0.113.9"]
        )
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.9", 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as client:
            yield client, app
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()


@pytest.mark.asvs("RST-06")
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_reset_links_are_built_from_the_public_url_whatever_the_host_headers_say(
    proxied_http: tuple[httpx.AsyncClient, FastAPI], smtp: SmtpServer, family: str
) -> None:
    http, app = proxied_http
    world = await new_tenant(http)
    if family == "tenant":
        email, base = (await world.add_member("user")).email, f"/api/v1/auth/tenants/{world.tenant_id}"
    else:
        user = await world.add_end_user(world.environment_id)
        email, base = user.email, user.auth_base

    forgot = await http.post(f"{base}/forgot-password", json={"email": email}, headers=HOSTILE_HOST)
    assert forgot.status_code == 200, forgot.text
    assert forgot.json() == {"message": "If an account exists with this identifier, a reset link has been sent."}
    assert await app.state.outbox.run_once() >= 1

    [message] = smtp.inbox.to(email)
    for part in ("plain", "html"):
        body = message.get_body((part,))
        assert body is not None
        text = body.get_content()
        for told in ("evil", "8443", "https://"):
            assert told not in text, text
        links = URL.findall(text)
        assert links, text
        assert all(link.startswith("http://sump.test/") for link in links), links
    token = reset_token(message)  # the link the public URL gives, with its token, redeemable as usual
    reset = await http.post(f"{base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert reset.status_code == 200, reset.text


@pytest.mark.asvs("RST-07")
async def test_the_api_takes_the_reset_token_in_the_json_body_only(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    document = mail_app.openapi()
    resets = {path: operations for path, operations in document["paths"].items() if path.endswith("/reset-password")}
    assert set(resets) == {
        "/api/v1/auth/tenants/{tenantId}/reset-password",
        "/api/v1/auth/environments/{environmentId}/reset-password",
    }
    for path, operations in resets.items():
        assert set(operations) == {"post"}, path
        operation = operations["post"]
        assert [parameter["in"] for parameter in operation.get("parameters", [])] == ["path"], path
        assert "token" not in {parameter["name"] for parameter in operation["parameters"]}, path
        assert set(operation["requestBody"]["content"]) == {"application/json"}, path
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
        assert {"token", "newPassword"} <= set(schema["required"]), path

    base, token, _ = await reset_token_of(http, mail_app, smtp, "environment")
    in_query = await http.post(f"{base}/reset-password", params={"token": token}, json={"newPassword": NEW_PASSWORD})
    assert in_query.status_code == 400, in_query.text
    assert in_query.headers["content-type"].startswith("application/problem+json")
    assert in_query.json()["code"] == "validation_failed"
    assert set(in_query.json()["errors"]) == {"token"}
    assert token not in in_query.text
    in_body = await http.post(f"{base}/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert in_body.status_code == 200, "the token a query brought was not taken, nor spent"


# What Chromium sends with a form posted from a page whose policy is `no-referrer`: no `Referer`, `Origin: null`,
# and where the form came from in `Sec-Fetch-Site` (tests/console/test_auth.py sees it in the browser).
POSTED_WITHOUT_REFERRER = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}


async def _emailed_link(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, family: str
) -> tuple[str, re.Match[str], str]:
    """A reset link as the email carries it, for a new account of `family`: (its auth base, the link as
    `HOSTED_LINK` or `LINK` matched it, the account's address)."""
    base, message, email, _ = await reset_mail_of(http, mail_app, smtp, family)
    body = message.get_body(("plain",))
    assert body is not None
    link = (HOSTED_LINK if family == "environment" else LINK).search(body.get_content())
    assert link is not None
    return base, link, email


@pytest.mark.asvs("RST-07")
async def test_the_reset_page_the_link_opens_sends_no_referrer(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """The end user's link opens the hosted page with the token in its address: the page tells the browser to
    send that address nowhere, not even with the page's own requests, and its form still posts."""
    base, link, email = await _emailed_link(http, mail_app, smtp, "environment")
    page = await http.get(link.group(0))
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<meta name="referrer" content="no-referrer">' in page.text
    assert "same-origin" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    csrf = CSRF.search(page.text)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "token": link.group(2), "newPassword": NEW_PASSWORD, "passwordConfirm": NEW_PASSWORD}
    action = urlsplit(link.group(0)).path
    forged = await http.post(action, data=form, headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403, forged.text  # by the API's guard: this browser holds the end user's cookie
    assert "Password changed" not in forged.text
    posted = await http.post(action, data=form, headers=POSTED_WITHOUT_REFERRER)
    assert posted.status_code == 200, posted.text
    assert "Password changed" in posted.text
    signed_in = await http.post(f"{base}/login", json={"email": email, "password": NEW_PASSWORD})
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.asvs("RST-07")
async def test_the_consoles_reset_page_sends_no_referrer_and_its_form_still_posts(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """A tenant account's link opens the console's page. It sends no referrer (the rest of the console keeps
    `same-origin`), so its form posts `Origin: null`, which the console takes only with the browser's
    `Sec-Fetch-Site: same-origin`."""
    base, link, email = await _emailed_link(http, mail_app, smtp, "tenant")
    assert link.group(0).startswith("http://sump.test/console/reset-password?")
    page = await http.get(link.group(0))
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    policy = dict(directive.strip().split(" ", 1) for directive in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert {policy[name] for name in ("script-src", "style-src", "connect-src", "form-action")} == {"'self'"}
    assert policy["img-src"] == "'self' data:"
    assert (await http.get("/console/forgot-password")).headers["referrer-policy"] == "same-origin"

    csrf = CSRF.search(page.text)
    assert csrf is not None
    form = {
        "csrf": csrf.group(1),
        "tenant": link.group(2),
        "token": link.group(3),
        "newPassword": NEW_PASSWORD,
        "passwordConfirm": NEW_PASSWORD,
    }
    for refused in ({"Origin": "null"}, {"Origin": "null", "Sec-Fetch-Site": "same-site"}):
        forged = await http.post("/console/reset-password", data=form, headers=refused)
        assert forged.status_code == 403, (refused, forged.text)
        assert "came from another site" in forged.text
    posted = await http.post("/console/reset-password", data=form, headers=POSTED_WITHOUT_REFERRER)
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"] == "/console/login"
    signed_in = await http.post(f"{base}/login", json={"email": email, "password": NEW_PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
