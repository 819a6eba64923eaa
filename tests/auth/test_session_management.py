"""Tenant sessions over time: listing and revoking one's sessions, and idle and absolute expiry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only

from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.links import AccountToken, LinkPurpose
from sump.db.tables.tenant_accounts import TenantAccount
from sump.kit.passwords import PasswordHasher
from sump.sessions import service as sessions
from tests.auth.tenant_sessions import (
    ABSOLUTE_TTL,
    IDLE_TTL,
    OPTIONAL_SESSION_FIELDS,
    SESSION_FIELDS,
    auth,
    cookie_header,
    current,
    last_active,
    rows,
    set_cookie_value,
    set_session,
    signed,
    signed_in,
    when,
)
from tests.support import PASSWORD, TenantWorld, bearer, until_done_or_a_lock_waits

# Listing and revoking sessions


@pytest.mark.asvs("SESS-08")
async def test_sessions_lists_the_accounts_live_sessions_and_marks_this_one(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    laptop = await signed_in(client, world, email=world.owner.email)
    phone = await signed_in(client, world, username=world.owner.username)
    member = await world.add_member("admin")

    response = await client.get(f"{auth(world.tenant_id)}/sessions", headers=bearer(phone["token"]))

    assert response.status_code == 200
    sessions = response.json()
    assert isinstance(sessions, list)
    assert len(sessions) == 3
    by_id = {session["id"]: session for session in sessions}
    assert set(by_id) >= {laptop["session"]["id"], phone["session"]["id"]}
    assert [session["id"] for session in sessions if session["current"]] == [phone["session"]["id"]]
    assert by_id[laptop["session"]["id"]]["current"] is False
    for session in sessions:
        assert session["accountId"] == world.owner.account_id
        assert SESSION_FIELDS | {"current"} <= set(session) <= SESSION_FIELDS | OPTIONAL_SESSION_FIELDS | {"current"}
    mine = await client.get(f"{auth(world.tenant_id)}/sessions", headers=member.auth)
    assert [session["accountId"] for session in mine.json()] == [member.account_id]
    assert (await client.get(f"{auth(world.tenant_id)}/sessions")).status_code == 401


@pytest.mark.asvs("SESS-08")
async def test_revoke_one_session(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    laptop = await signed_in(client, world, email=world.owner.email)
    phone = await signed_in(client, world, email=world.owner.email)
    sessions = f"{auth(world.tenant_id)}/sessions"

    revoked = await client.delete(f"{sessions}/{laptop['session']['id']}", headers=bearer(phone["token"]))

    assert revoked.status_code == 204
    assert "set-cookie" not in revoked.headers
    assert (await current(client, world, bearer(laptop["token"]))).status_code == 401
    assert await rows(db, id=laptop["session"]["id"]) == 0
    assert (await current(client, world, bearer(phone["token"]))).status_code == 200
    listed = await client.get(sessions, headers=bearer(phone["token"]))
    assert laptop["session"]["id"] not in {session["id"] for session in listed.json()}
    again = await client.delete(f"{sessions}/{laptop['session']['id']}", headers=bearer(phone["token"]))
    assert again.status_code == 404


@pytest.mark.asvs("SESS-08", "AC-02")
async def test_another_accounts_session_id_is_404(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, db: AsyncSession
) -> None:
    member = await world.add_member("user")
    victims = [
        (world, member.token, (await current(client, world, member.auth)).json()["id"]),
        (other, other.owner.token, (await current(client, other, other.owner.auth)).json()["id"]),
    ]
    for tenant, token, session_id in victims:
        response = await client.delete(f"{auth(world.tenant_id)}/sessions/{session_id}", headers=world.owner.auth)
        assert response.status_code == 404
        assert response.json()["code"] == "session_not_found"
        assert await rows(db, id=session_id) == 1
        assert (await current(client, tenant, bearer(token))).status_code == 200
    unknown = await client.delete(f"{auth(world.tenant_id)}/sessions/{uuid.uuid4()}", headers=world.owner.auth)
    assert unknown.status_code == 404
    bad = await client.delete(f"{auth(world.tenant_id)}/sessions/not-a-uuid", headers=world.owner.auth)
    assert bad.status_code == 400


@pytest.mark.asvs("SESS-04", "SESS-08")
async def test_revoking_the_current_session_clears_its_cookie(client: httpx.AsyncClient, world: TenantWorld) -> None:
    data = await signed_in(client, world, email=world.owner.email)
    response = await client.delete(
        f"{auth(world.tenant_id)}/sessions/{data['session']['id']}", headers=cookie_header(signed(data["token"]))
    )
    assert response.status_code == 204
    assert set_cookie_value(response) == ""
    assert (await current(client, world, bearer(data["token"]))).status_code == 401


@pytest.mark.asvs("SESS-08")
async def test_logout_all_revokes_every_session_of_the_account(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    tokens = [world.owner.token]
    for _ in range(3):
        tokens.append((await signed_in(client, world, email=world.owner.email))["token"])
    member = await world.add_member("admin")

    response = await client.post(f"{auth(world.tenant_id)}/logout-all", headers=cookie_header(signed(tokens[-1])))

    assert response.status_code == 200
    assert response.json() == {"revoked": 4}
    assert set_cookie_value(response) == ""
    for token in tokens:
        assert (await current(client, world, bearer(token))).status_code == 401
    assert await rows(db, account_id=world.owner.account_id) == 0
    assert (await current(client, world, member.auth)).status_code == 200
    assert (await client.post(f"{auth(world.tenant_id)}/logout-all", headers=bearer(tokens[0]))).status_code == 401


@pytest.mark.asvs("SESS-07")
async def test_a_session_that_outlived_its_accounts_disabling_is_refused(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """Disabling an account ends its sessions; one that still stands (a sign-in that finished while the account
    was being disabled) counts for nothing, on the API as on the session check."""
    admin = await world.add_member("admin")
    user = await world.add_end_user(world.environment_id)
    await db.execute(update(TenantAccount).where(TenantAccount.id == uuid.UUID(admin.account_id)).values(disabled=True))
    await db.execute(
        update(EnvironmentAccount).where(EnvironmentAccount.id == uuid.UUID(user.account_id)).values(disabled=True)
    )
    await db.commit()
    assert await rows(db, account_id=admin.account_id) == await rows(db, id=user.session_id) == 1

    for path, headers in (
        (f"{world.base}/accounts", admin.auth),
        (f"{auth(world.tenant_id)}/sessions", admin.auth),
        (f"{auth(world.tenant_id)}/session", admin.auth),
        (f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}", user.auth),
        (f"/api/v1/auth/environments/{world.environment_id}/sessions", user.auth),
        (f"/api/v1/auth/environments/{world.environment_id}/session", user.auth),
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["code"] == "unauthenticated", path
    assert (await client.get(f"{world.base}/accounts", headers=world.owner.auth)).status_code == 200


async def _signed_in_account(world: TenantWorld, family: str) -> tuple[str, str, str, str, str]:
    """A new account of `family`, signed in: its id, session token, username, auth base and admin URL."""
    if family == "tenant":
        member = await world.add_member("user")
        admin = f"{world.base}/accounts/{member.account_id}"
        return member.account_id, member.token, member.username, auth(world.tenant_id), admin
    user = await world.add_end_user(world.environment_id)
    admin = f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}"
    return user.account_id, user.token, user.username, user.auth_base, admin


@pytest.mark.asvs("SESS-06", "SESS-07")
@pytest.mark.parametrize("way", ["new password", "disabled", "deleted"])
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_a_sign_in_that_checked_the_password_while_it_was_changed_or_disabled_gets_nothing(
    client: httpx.AsyncClient,
    world: TenantWorld,
    app: FastAPI,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    family: str,
    way: str,
) -> None:
    """A sign-in checks the password with no transaction open. Meanwhile the owner sets a new password, or an
    admin disables the account, which ends every other session and sign-in in progress: the sign-in that
    checked the old password is not among them yet, and gets no session afterwards. Whoever knew the old
    password does not outlast the change. An account deleted meanwhile answers the same 401 on both databases
    (not a 409 from the session's foreign key)."""
    account_id, token, username, base, admin = await _signed_in_account(world, family)
    hasher: PasswordHasher = app.state.hasher
    checked = hasher.verify
    new = {"currentPassword": PASSWORD, "newPassword": "the owner's own new passphrase"}

    async def changed_meanwhile(
        stored: str | None, password: str, legacy_cost: int | None = None
    ) -> tuple[bool, str | None]:
        monkeypatch.setattr(hasher, "verify", checked)
        verified = await checked(stored, password, legacy_cost)
        if way == "new password":
            changed = await client.post(f"{base}/change-password", json=new, headers=bearer(token))
        elif way == "disabled":
            changed = await client.patch(f"{admin}/disable", headers=world.owner.auth)
        else:
            changed = await client.delete(admin, headers=world.owner.auth)
        assert changed.status_code == 204, changed.text
        return verified

    monkeypatch.setattr(hasher, "verify", changed_meanwhile)
    raced = await client.post(f"{base}/login", json={"username": username, "password": PASSWORD})

    assert raced.status_code == 401, raced.text
    assert raced.json()["code"] == "invalid_credentials"
    kept = 1 if way == "new password" else 0  # the session that set the new password stays
    assert await rows(db, account_id=account_id) == kept
    assert (await client.get(f"{base}/session", headers=bearer(token))).status_code == (200 if kept else 401)


@pytest.mark.parametrize("change", ["email", "password"])
async def test_a_change_whose_password_was_checked_while_the_owner_set_a_new_one_is_refused(
    client: httpx.AsyncClient,
    world: TenantWorld,
    app: FastAPI,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    """Someone who knows the old password asks for a change that needs it (a new email, a new password) from
    their session; while the hash is computed, the owner sets a new password, which ends that session. The
    change that checked the old password is refused as it would be a moment later: no email change pending, no
    password of theirs."""
    user = await world.add_end_user(world.environment_id)
    owners = await client.post(f"{user.auth_base}/login", json=user.credentials)
    owner_token = owners.json()["token"]
    hasher: PasswordHasher = app.state.hasher
    checked = hasher.verify
    owners_password = "the owner's own new passphrase"

    async def changed_meanwhile(
        stored: str | None, password: str, legacy_cost: int | None = None
    ) -> tuple[bool, str | None]:
        monkeypatch.setattr(hasher, "verify", checked)
        verified = await checked(stored, password, legacy_cost)
        new = {"currentPassword": PASSWORD, "newPassword": owners_password}
        changed = await client.post(f"{user.auth_base}/change-password", json=new, headers=bearer(owner_token))
        assert changed.status_code == 204, changed.text
        return verified

    monkeypatch.setattr(hasher, "verify", changed_meanwhile)
    if change == "email":
        account = f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}"
        body = {"email": "someone-elses@example.com", "currentPassword": PASSWORD}
        raced = await client.patch(f"{account}/email", json=body, headers=user.auth)
    else:
        body = {"currentPassword": PASSWORD, "newPassword": "someone else's passphrase"}
        raced = await client.post(f"{user.auth_base}/change-password", json=body, headers=user.auth)

    assert (raced.status_code, raced.json()["code"]) == (403, "wrong_password"), raced.text
    pending = (
        select(func.count()).select_from(AccountToken).where(AccountToken.account_id == uuid.UUID(user.account_id))
    )
    assert await db.scalar(pending.where(AccountToken.purpose == LinkPurpose.CHANGE_EMAIL)) == 0
    signed_in = await client.post(
        f"{user.auth_base}/login", json={"username": user.username, "password": owners_password}
    )
    assert signed_in.status_code == 200, signed_in.text


async def test_a_change_that_needs_the_password_reads_it_under_a_lock_until_it_is_written(
    client: httpx.AsyncClient, world: TenantWorld, app: FastAPI
) -> None:
    """What keeps a new password from slipping in between the check and the change: on PostgreSQL the account's
    row read `FOR NO KEY UPDATE` (a sign-in's new session may still refer to it); on SQLite, one writer at a
    time, a write that changes nothing first, so the database is this request's from the check to its commit."""
    user = await world.add_end_user(world.environment_id)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", record)
    try:
        body = {"currentPassword": PASSWORD, "newPassword": "the owner's own new passphrase"}
        changed = await client.post(f"{user.auth_base}/change-password", json=body, headers=user.auth)
    finally:
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", record)

    assert changed.status_code == 204, changed.text
    [check] = [n for n, sql in enumerate(seen) if sql.startswith("SELECT") and "password_changed_at IS" in sql]
    if app.state.engine.dialect.name == "postgresql":
        assert seen[check].endswith("FOR NO KEY UPDATE")
    else:
        assert seen[check - 1].startswith("DELETE FROM environment_account WHERE ")
        # Before it, a new password ends the account's links and reset tokens (`accounts.removal`), nothing else.
        earlier = [sql for sql in seen[: check - 1] if sql.startswith(("UPDATE", "INSERT", "DELETE"))]
        assert earlier
        assert all(
            sql.startswith(("DELETE FROM account_token ", "DELETE FROM password_reset_token ")) for sql in earlier
        )


@pytest.mark.asvs("SESS-06", "SESS-07")
@pytest.mark.parametrize("way", ["new password", "disabled"])
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_a_sign_in_writing_while_the_password_is_changed_or_the_account_disabled_gets_nothing(
    client: httpx.AsyncClient,
    world: TenantWorld,
    app: FastAPI,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    family: str,
    way: str,
) -> None:
    """The same, truly at once: the change has ended the sessions it found and not committed yet when the
    sign-in writes its own. The change holds the account's row by then, so the sign-in waits for it, and is
    refused once it sees the change."""
    account_id, token, username, base, admin = await _signed_in_account(world, family)
    hasher: PasswordHasher = app.state.hasher
    checked, revoke_all, issue = hasher.verify, sessions.revoke_all, sessions.issue
    password_checked, sessions_ended, writing = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def signal_then_issue(*args: Any, **kwargs: Any) -> sessions.Issued:
        writing.set()
        return await issue(*args, **kwargs)

    async def then_wait(stored: str | None, password: str, legacy_cost: int | None = None) -> tuple[bool, str | None]:
        verified = await checked(stored, password, legacy_cost)
        password_checked.set()
        await sessions_ended.wait()
        return verified

    async def then_let_the_sign_in_write(*args: Any, **kwargs: Any) -> int:
        ended = await revoke_all(*args, **kwargs)
        sessions_ended.set()
        # The sign-in writes its session now, after the sessions were ended: it goes through, or waits for this
        # change to commit (the account's row is held), and either way must be refused.
        await asyncio.wait_for(writing.wait(), 30)
        return ended

    async def change() -> httpx.Response:
        await password_checked.wait()
        monkeypatch.setattr(hasher, "verify", checked)
        monkeypatch.setattr(sessions, "revoke_all", then_let_the_sign_in_write)
        if way == "new password":
            new = {"currentPassword": PASSWORD, "newPassword": "the owner's own new passphrase"}
            return await client.post(f"{base}/change-password", json=new, headers=bearer(token))
        return await client.patch(f"{admin}/disable", headers=world.owner.auth)

    monkeypatch.setattr(hasher, "verify", then_wait)
    monkeypatch.setattr(sessions, "issue", signal_then_issue)
    raced, changed = await asyncio.gather(
        client.post(f"{base}/login", json={"username": username, "password": PASSWORD}), change()
    )

    assert changed.status_code == 204, changed.text
    assert raced.status_code == 401, raced.text
    assert raced.json()["code"] == "invalid_credentials"
    assert await rows(db, account_id=account_id) == (1 if way == "new password" else 0)


@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_sign_ins_of_one_account_at_the_same_instant_all_get_their_sessions(
    client: httpx.AsyncClient, world: TenantWorld, app: FastAPI, db: AsyncSession, family: str
) -> None:
    """Each sign-in writes its session (whose foreign key locks the account's row against key changes) and checks
    that the account is as its hash found it (which locks the row against any change). On PostgreSQL, two sign-ins
    of one account reaching that check together must not wait for each other: they are held at the check until
    both are there. SQLite lets one writer at a time through, so they take turns."""
    account_id, _, username, base, _ = await _signed_in_account(world, family)
    table = "tenant_account" if family == "tenant" else "environment_account"
    together = asyncio.Barrier(3)

    def held_at_the_check(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if f"FROM {table}" in statement and ("FOR UPDATE" in statement or "FOR SHARE" in statement):
            await_only(together.wait())

    postgres = app.state.engine.dialect.name == "postgresql"
    if postgres:
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", held_at_the_check)
    try:
        login = {"username": username, "password": PASSWORD}
        answers = await asyncio.gather(*(client.post(f"{base}/login", json=login) for _ in range(3)))
    finally:
        if postgres:
            event.remove(app.state.engine.sync_engine, "before_cursor_execute", held_at_the_check)

    assert [answer.status_code for answer in answers] == [200] * 3, [answer.text for answer in answers]
    assert await rows(db, account_id=account_id) == 4  # the first session and these three
    for answer in answers:
        assert (await client.get(f"{base}/session", headers=bearer(answer.json()["token"]))).status_code == 200


def _weaker(hasher: PasswordHasher) -> Callable[..., Awaitable[tuple[bool, str | None]]]:
    """`hasher.verify` as if each stored hash were weaker than today's: the sign-in stores a stronger one."""
    checked = hasher.verify

    async def verify(stored: str | None, password: str, legacy_cost: int | None = None) -> tuple[bool, str | None]:
        ok, _ = await checked(stored, password, legacy_cost)
        return ok, stored if ok else None  # the stored hash stands for its stronger replacement

    return verify


@pytest.mark.parametrize("stored", ["today's hash", "a weaker hash"])
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_a_sign_in_replacing_its_session_while_the_account_is_disabled_fails_neither(
    client: httpx.AsyncClient,
    world: TenantWorld,
    app: FastAPI,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    family: str,
    stored: str,
) -> None:
    """A sign-in that replaces the session it was sent with (the console's, the hosted pages') deletes that
    session's row and checks its account's row, and stores a stronger hash when the stored one is weaker than
    today's; disabling the account writes the account's row, then deletes its sessions. Held so that the
    disabling comes just after the sign-in deleted its old session, the two must not wait for each other (on
    PostgreSQL one would be ended as a deadlock's victim, a 500): both answer, and nothing of the account stays
    signed in."""
    account_id, token, username, base, admin = await _signed_in_account(world, family)
    table = "tenant_account" if family == "tenant" else "environment_account"
    if stored == "a weaker hash":
        monkeypatch.setattr(app.state.hasher, "verify", _weaker(app.state.hasher))
    disabled_written, disabling = asyncio.Event(), list[asyncio.Task[httpx.Response]]()

    def then_disable(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("DELETE FROM session WHERE session.token_hash") and not disabling:  # the old one
            disabling.append(asyncio.create_task(client.patch(f"{admin}/disable", headers=world.owner.auth)))
            await_only(until_done_or_a_lock_waits(db, disabled_written))
        elif statement.startswith(f"UPDATE {table} SET") and "password_hash" not in statement:
            disabled_written.set()

    postgres = app.state.engine.dialect.name == "postgresql"
    if postgres:  # SQLite lets one writer at a time through: nothing to interleave
        event.listen(app.state.engine.sync_engine, "after_cursor_execute", then_disable)
    try:
        login = {"username": username, "password": PASSWORD}
        raced = await client.post(f"{base}/login", json=login, headers=bearer(token))
        if not postgres:
            disabling.append(asyncio.create_task(client.patch(f"{admin}/disable", headers=world.owner.auth)))
        disabled = await disabling[0]
    finally:
        if postgres:
            event.remove(app.state.engine.sync_engine, "after_cursor_execute", then_disable)

    assert disabled.status_code == 204, disabled.text
    assert raced.status_code in (200, 401), raced.text  # signed in before the disabling, or refused for it
    assert await rows(db, account_id=account_id) == 0


async def test_password_grants_of_one_account_upgrading_its_hash_at_the_same_instant_all_get_their_tokens(
    client: httpx.AsyncClient, world: TenantWorld, app: FastAPI, db: AsyncSession
) -> None:
    """A password grant's sign-in stays in the grant's transaction, its check of the account's row holding the
    row until the tokens are written. Two of them replacing a weaker stored hash must not both hold the row
    shared and then wait for each other to write it (on PostgreSQL, a deadlock's victim, a 500): held at the
    check until both are there (or one waits for the other before it), both get their tokens."""
    user = await world.add_end_user(world.environment_id)
    reached: list[str] = []
    both = asyncio.Event()

    def held_at_the_check(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM environment_account" in statement and "FOR SHARE" in statement:
            reached.append(statement)
            if len(reached) == 2:
                both.set()
            await_only(until_done_or_a_lock_waits(db, both))  # or the other waits for this one's row

    postgres = app.state.engine.dialect.name == "postgresql"
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(app.state.hasher, "verify", _weaker(app.state.hasher))
        if postgres:  # SQLite lets one writer at a time through: they take turns
            event.listen(app.state.engine.sync_engine, "before_cursor_execute", held_at_the_check)
        try:
            grant = {"grantType": "password", "username": user.username, "password": PASSWORD}
            token = f"/api/v1/auth/environments/{user.environment_id}/token"
            answers = await asyncio.gather(*(client.post(token, json=grant) for _ in range(2)))
        finally:
            if postgres:
                event.remove(app.state.engine.sync_engine, "before_cursor_execute", held_at_the_check)

    assert [answer.status_code for answer in answers] == [200] * 2, [answer.text for answer in answers]
    assert await rows(db, account_id=user.account_id) == 3  # the first session and these two


@pytest.mark.asvs("SESS-07")
async def test_a_session_standing_when_its_account_is_enabled_again_ends(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """Disabling ends the account's sessions; one that slipped past it (here left in place by disabling the row
    directly) does not come back with the account: enabled again, it starts afresh."""
    admin = await world.add_member("admin")
    user = await world.add_end_user(world.environment_id)
    await db.execute(update(TenantAccount).where(TenantAccount.id == uuid.UUID(admin.account_id)).values(disabled=True))
    await db.execute(
        update(EnvironmentAccount).where(EnvironmentAccount.id == uuid.UUID(user.account_id)).values(disabled=True)
    )
    await db.commit()

    for url, account_id in (
        (f"{world.base}/accounts/{admin.account_id}", admin.account_id),
        (f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}", user.account_id),
    ):
        assert (await client.patch(f"{url}/enable", headers=world.owner.auth)).status_code == 204
        assert await rows(db, account_id=account_id) == 0

    assert (await current(client, world, admin.auth)).status_code == 401
    again = await client.post(f"{auth(world.tenant_id)}/login", json={"username": admin.username, "password": PASSWORD})
    assert (await current(client, world, bearer(again.json()["token"]))).status_code == 200


# Expiry


@pytest.mark.asvs("SESS-05")
async def test_idle_session_expires(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    idle = await signed_in(client, world, email=world.owner.email)
    other = await signed_in(client, world, email=world.owner.email)
    await set_session(db, idle["session"]["id"], last_active_at=datetime.now(UTC) - IDLE_TTL - timedelta(seconds=1))

    assert (await current(client, world, bearer(idle["token"]))).status_code == 401
    assert (await current(client, world, cookie_header(signed(idle["token"])))).status_code == 401
    listed = await client.get(f"{auth(world.tenant_id)}/sessions", headers=bearer(other["token"]))
    assert idle["session"]["id"] not in {session["id"] for session in listed.json()}
    assert (await current(client, world, bearer(other["token"]))).status_code == 200


@pytest.mark.asvs("SESS-05")
async def test_activity_within_the_idle_window_extends_it(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    data = await signed_in(client, world, email=world.owner.email)
    session_id = data["session"]["id"]
    await set_session(db, session_id, last_active_at=datetime.now(UTC) - IDLE_TTL + timedelta(minutes=5))

    response = await current(client, world, bearer(data["token"]))

    assert response.status_code == 200
    refreshed = await last_active(db, session_id)
    assert datetime.now(UTC) - refreshed < timedelta(minutes=1)
    assert when(response.json()["lastActiveAt"]) == refreshed


@pytest.mark.asvs("SESS-05")
async def test_absolute_expiry_holds_even_for_an_active_session(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    data = await signed_in(client, world, email=world.owner.email)
    session_id = data["session"]["id"]
    await set_session(db, session_id, expires_at=datetime.now(UTC) + timedelta(minutes=5))
    assert (await current(client, world, bearer(data["token"]))).status_code == 200

    await set_session(
        db,
        session_id,
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
        last_active_at=datetime.now(UTC),
    )

    assert (await current(client, world, bearer(data["token"]))).status_code == 401
    assert (await client.get(world.base, headers=bearer(data["token"]))).status_code == 401


@pytest.mark.asvs("SESS-05")
async def test_the_absolute_lifetime_configured_now_ends_a_session_made_under_a_longer_one(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A session made while SUMP_SESSION_ABSOLUTE_TTL was longer still says it expires later; the lifetime set
    now ends it all the same (an operator who shortens it means every session), on every way a session counts:
    the session check, a route, the list of sessions, and the access tokens and refresh tokens of its chain."""
    owner = await signed_in(client, world, email=world.owner.email)
    user = await world.add_end_user(world.environment_id)
    grant = await client.post(f"{user.auth_base}/token", json={"grantType": "session"}, headers=user.auth)
    assert grant.status_code == 200, grant.text
    made_long_ago = {"created_at": datetime.now(UTC) - ABSOLUTE_TTL - timedelta(seconds=1)}
    for session_id in (owner["session"]["id"], user.session_id):
        await set_session(db, session_id, expires_at=datetime.now(UTC) + timedelta(days=1), **made_long_ago)

    assert (await current(client, world, bearer(owner["token"]))).status_code == 401
    assert (await client.get(world.base, headers=bearer(owner["token"]))).status_code == 401
    listed = await client.get(f"{auth(world.tenant_id)}/sessions", headers=world.owner.auth)
    assert owner["session"]["id"] not in {session["id"] for session in listed.json()}
    me = await client.get(f"{user.auth_base}/me", headers=bearer(grant.json()["accessToken"]))
    assert (me.status_code, me.json()["code"]) == (401, "invalid_token")
    refreshed = await client.post(
        f"{user.auth_base}/token", json={"grantType": "refresh_token", "refreshToken": grant.json()["refreshToken"]}
    )
    assert (refreshed.status_code, refreshed.json()["code"]) == (401, "invalid_grant")


@pytest.mark.asvs("SESS-05")
async def test_last_active_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    data = await signed_in(client, world, email=world.owner.email)
    session_id = data["session"]["id"]
    issued = await last_active(db, session_id)
    assert issued == when(data["session"]["lastActiveAt"])

    for _ in range(2):
        assert (await current(client, world, bearer(data["token"]))).status_code == 200
    assert await last_active(db, session_id) == issued

    recent = datetime.now(UTC) - timedelta(seconds=30)
    await set_session(db, session_id, last_active_at=recent)
    assert (await current(client, world, bearer(data["token"]))).status_code == 200
    assert await last_active(db, session_id) == recent

    stale = datetime.now(UTC) - timedelta(minutes=2)
    await set_session(db, session_id, last_active_at=stale)
    response = await current(client, world, bearer(data["token"]))
    assert response.status_code == 200
    refreshed = await last_active(db, session_id)
    assert refreshed > stale + timedelta(minutes=1)
    assert datetime.now(UTC) - refreshed < timedelta(minutes=1)
    assert when(response.json()["lastActiveAt"]) == refreshed
