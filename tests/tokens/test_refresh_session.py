"""A refresh token is only as alive as its session: once the session is past its absolute or idle expiry,
revoked, or its account disabled, the refresh answers exactly like an unknown refresh token. A replayed refresh
token ends the session itself, not only the token's family."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.sessions import Session
from sump.db.tables.tokens import RefreshToken
from sump.kit.crypto import token_digest
from sump.tokens import repository
from tests.support import PASSWORD, TenantWorld, bearer, statements


class Chain:
    """An end user signed up in `world`, with the session of the sign-up and tokens from that session."""

    def __init__(self, client: httpx.AsyncClient, world: TenantWorld) -> None:
        self.client, self.world = client, world
        self.auth = f"/api/v1/auth/environments/{world.environment_id}"

    async def sign_up(self) -> Chain:
        user = await self.world.add_end_user(self.world.environment_id)
        self.account_id, self.session_token = user.account_id, user.token
        issued = await self.client.post(f"{self.auth}/token", json={"grantType": "session"}, headers=user.auth)
        assert issued.status_code == 200, issued.text
        self.access_token: str = issued.json()["accessToken"]
        self.refresh_token: str = issued.json()["refreshToken"]
        self.session_id = uuid.UUID(jwt.decode(self.access_token, options={"verify_signature": False})["sid"])
        assert self.session_id == uuid.UUID(user.session_id)
        return self

    async def refresh(self, token: str | None = None) -> httpx.Response:
        body = {"grantType": "refresh_token", "refreshToken": token or self.refresh_token}
        return await self.client.post(f"{self.auth}/token", json=body)

    async def refreshed(self) -> None:
        """One successful rotation: the chain is alive before the test kills its session."""
        response = await self.refresh()
        assert response.status_code == 200, response.text
        self.access_token, self.refresh_token = response.json()["accessToken"], response.json()["refreshToken"]

    async def session(self) -> httpx.Response:
        return await self.client.get(f"{self.auth}/session", headers=bearer(self.session_token))

    async def me(self) -> httpx.Response:
        return await self.client.get(f"{self.auth}/me", headers=bearer(self.access_token))


def problem(response: httpx.Response) -> dict[str, Any]:
    """The answer without its request id, which differs from request to request."""
    body: dict[str, Any] = response.json()
    return {"status": response.status_code, **{name: value for name, value in body.items() if name != "requestId"}}


async def unknown_token_answer(user: Chain) -> dict[str, Any]:
    answer = problem(await user.refresh(uuid.uuid4().hex * 2))
    assert answer["code"] == "invalid_grant"
    assert answer["detail"] == "The refresh token is not valid."
    return answer


async def assert_refused_like_an_unknown_token(user: Chain) -> None:
    expected = await unknown_token_answer(user)
    assert problem(await user.refresh()) == expected
    assert problem(await user.refresh()) == expected, "and it stays refused"


async def age_session(db: AsyncSession, session_id: uuid.UUID, **values: Any) -> None:
    await db.execute(update(Session).where(Session.id == session_id).values(**values))
    await db.commit()


@pytest.mark.asvs("SESS-05", "JWT-06")
async def test_refresh_fails_after_the_session_absolute_expiry(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user = await Chain(client, world).sign_up()
    await user.refreshed()
    await age_session(db, user.session_id, expires_at=utcnow() - timedelta(seconds=1))
    await assert_refused_like_an_unknown_token(user)


@pytest.mark.asvs("SESS-05", "JWT-06")
async def test_refresh_fails_after_the_session_idle_expiry(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, app: FastAPI
) -> None:
    user = await Chain(client, world).sign_up()
    await user.refreshed()
    idle = timedelta(seconds=app.state.settings.session_idle_ttl)
    await age_session(db, user.session_id, last_active_at=utcnow() - idle + timedelta(minutes=2))
    await user.refreshed()  # used within the idle window: still live
    await age_session(db, user.session_id, last_active_at=utcnow() - idle - timedelta(seconds=1))
    await assert_refused_like_an_unknown_token(user)


@pytest.mark.asvs("SESS-05")
async def test_a_refresh_is_the_sessions_activity(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, app: FastAPI
) -> None:
    """An application that only refreshes its tokens is in use: each refresh slides the session's idle expiry (at
    most once a minute), so it stays signed in past what was its idle deadline, until the absolute expiry."""
    user = await Chain(client, world).sign_up()
    idle = timedelta(seconds=app.state.settings.session_idle_ttl)
    await age_session(db, user.session_id, last_active_at=utcnow() - idle + timedelta(minutes=2))
    await user.refreshed()
    touched = await db.scalar(select(Session.last_active_at).where(Session.id == user.session_id))
    await db.commit()
    assert touched is not None
    assert utcnow() - touched < timedelta(minutes=1)
    await age_session(db, user.session_id, last_active_at=touched - timedelta(minutes=3))  # the old deadline passes
    await user.refreshed()


@pytest.mark.asvs("SESS-08", "JWT-06")
async def test_a_new_password_ends_the_refresh_tokens_of_the_session_it_was_chosen_in(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The session a password is changed in goes on, but the refresh tokens issued from it end: one taken from it
    before (the reason to change a password) must not outlive the old password. Its own applications exchange
    the session again."""
    user = await Chain(client, world).sign_up()
    await user.refreshed()
    change = {"currentPassword": PASSWORD, "newPassword": "an entirely different passphrase"}
    changed = await client.post(f"{user.auth}/change-password", json=change, headers=bearer(user.session_token))
    assert changed.status_code == 204, changed.text
    assert (await user.session()).status_code == 200
    await assert_refused_like_an_unknown_token(user)
    again = await client.post(f"{user.auth}/token", json={"grantType": "session"}, headers=bearer(user.session_token))
    assert again.status_code == 200, again.text


@pytest.mark.asvs("SESS-08", "JWT-06")
async def test_refresh_fails_once_the_session_is_revoked(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await Chain(client, world).sign_up()
    await user.refreshed()
    revoked = await client.delete(f"{user.auth}/sessions/{user.session_id}", headers=bearer(user.session_token))
    assert revoked.status_code == 204, revoked.text
    await assert_refused_like_an_unknown_token(user)


@pytest.mark.asvs("SESS-07")
async def test_refresh_fails_once_the_account_is_disabled(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    by_admin = await Chain(client, world).sign_up()
    disabled = await client.patch(
        f"/api/v1/environments/{world.environment_id}/accounts/{by_admin.account_id}/disable",
        headers=world.owner.auth,
    )
    assert disabled.status_code == 204, disabled.text
    await assert_refused_like_an_unknown_token(by_admin)

    # The account flag alone, with its session left in place, is enough too.
    flagged = await Chain(client, world).sign_up()
    await flagged.refreshed()
    await db.execute(
        update(EnvironmentAccount)
        .where(EnvironmentAccount.id == uuid.UUID(flagged.account_id))
        .values(disabled=True, disabled_at=utcnow())
    )
    await db.commit()
    assert await db.scalar(select(Session.id).where(Session.id == flagged.session_id)) is not None
    await assert_refused_like_an_unknown_token(flagged)


async def test_a_refresh_whose_sign_in_ends_meanwhile_is_refused_like_an_unknown_token(
    client: httpx.AsyncClient, world: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order that a race makes, fixed: the refresh has found its session live, then the sign-in ends (a
    sign-out or end-session: the session row goes, and its refresh tokens with it by ON DELETE CASCADE) before
    the rotation's single-use update. The answer is the unknown token's, never a server error."""
    user = await Chain(client, world).sign_up()
    expected = await unknown_token_answer(user)
    rotate = repository.mark_rotated

    async def sign_in_ended_then_rotate(db: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
        ended = delete(Session).where(Session.id == user.session_id)
        await db.execute(ended.execution_options(synchronize_session=False))  # the token read stays as read
        return await rotate(db, token_id, now)

    monkeypatch.setattr(repository, "mark_rotated", sign_in_ended_then_rotate)
    assert problem(await user.refresh()) == expected


@pytest.mark.asvs("JWT-06")
async def test_a_replayed_refresh_token_ends_its_session(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user = await Chain(client, world).sign_up()
    bystander = await Chain(client, world).sign_up()
    replayed = user.refresh_token
    await user.refreshed()
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.session_id == user.session_id, RefreshToken.rotated_at.is_not(None))
        .values(rotated_at=utcnow() - timedelta(minutes=1))  # outside the grace window for concurrent refreshes
    )
    await db.commit()
    assert (await user.session()).status_code == 200
    assert (await user.me()).status_code == 200

    replay = await user.refresh(replayed)
    assert problem(replay) == {
        **await unknown_token_answer(user),
        "detail": "The refresh token was already used; the sign-in is revoked.",
        "message": "The refresh token was already used; the sign-in is revoked.",
    }
    session = await user.session()
    assert session.status_code == 401, "the session's own token is refused"
    assert session.json()["code"] == "unauthenticated"
    me = await user.me()
    assert me.status_code == 401, "the session's access tokens are refused"
    assert me.json()["code"] == "invalid_token"
    assert (await user.refresh()).json()["code"] == "invalid_grant", "the current token of the family is gone too"
    fresh = await client.post(f"{user.auth}/token", json={"grantType": "session"}, headers=bearer(user.session_token))
    assert fresh.status_code == 401, "the session cannot mint a new family"

    assert (await bystander.session()).status_code == 200, "other sessions stay"
    await bystander.refreshed()


@pytest.mark.asvs("JWT-06")
async def test_a_replay_within_the_grace_window_after_the_chain_moved_on_ends_the_sign_in(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The grace window answers a client's concurrent refreshes with the same successor; once that successor was
    itself used, a token older than it is a replay (its thief's, within seconds of the rotation) and ends the
    sign-in, as outside the window."""
    user = await Chain(client, world).sign_up()
    stolen = user.refresh_token
    await user.refreshed()
    await user.refreshed()  # the chain moved on: the successor of `stolen` is spent too
    replay = await user.refresh(stolen)
    assert problem(replay) == {
        **await unknown_token_answer(user),
        "detail": "The refresh token was already used; the sign-in is revoked.",
        "message": "The refresh token was already used; the sign-in is revoked.",
    }
    assert (await user.session()).status_code == 401, "the sign-in is ended"
    assert (await user.refresh()).json()["code"] == "invalid_grant", "the current token of the family is gone too"


async def test_a_rotation_reads_what_it_checks_then_writes_its_successor_with_the_audit_row(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld, db: AsyncSession
) -> None:
    """What a refresh costs the database: one transaction of the reads it decides on (the environment, the token,
    its session, its account, the signing key), the rotation's single-use UPDATE, and the successor token and
    the audit row written together (one statement on PostgreSQL). The token refreshed is spent and its successor
    stored, by its digest only."""
    user = await Chain(client, world).sign_up()
    await user.refreshed()
    before = user.refresh_token
    with statements(app) as seen:
        await user.refreshed()
    postgres = app.state.engine.dialect.name == "postgresql"
    writes = [("WITH",)] if postgres else [("INSERT",), ("INSERT",)]
    reads = [("SELECT",)] * 5
    assert [kind[:1] for kind in seen] == [*reads, ("UPDATE",), *writes]
    stored = (await db.scalars(select(RefreshToken).where(RefreshToken.session_id == user.session_id))).all()
    assert len(stored) == 3
    rotated = {row.token_hash: row.rotated_at for row in stored}
    assert rotated[token_digest(before)] is not None, "the token refreshed is spent"
    assert rotated[token_digest(user.refresh_token)] is None, "its successor is stored, not yet used"


def revoke_before_rotation(monkeypatch: pytest.MonkeyPatch, session_id: uuid.UUID) -> None:
    """The chain of `session_id` is revoked after a refresh has read its token and before its rotation."""
    rotate = repository.mark_rotated

    async def revoked_then_rotate(db: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
        await db.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id == session_id)
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)  # the token read stays as read
        )
        return await rotate(db, token_id, now)

    monkeypatch.setattr(repository, "mark_rotated", revoked_then_rotate)


@pytest.mark.asvs("JWT-06")
async def test_a_refresh_within_the_grace_window_gets_nothing_once_the_chain_is_revoked_meanwhile(
    client: httpx.AsyncClient, world: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grace window hands a token refreshed a moment ago the same successor, but never a revoked one: when the
    chain is revoked (`…/token/revoke`, a sign-out) after the refresh has read the token and before its rotation,
    the late refresh is a replay of a revoked chain. It gets no token, and its sign-in ends."""
    user = await Chain(client, world).sign_up()
    spent = user.refresh_token
    await user.refreshed()  # the successor is current; `spent` is within the grace window
    revoke_before_rotation(monkeypatch, user.session_id)
    late = await user.refresh(spent)
    assert problem(late) == {
        **await unknown_token_answer(user),
        "detail": "The refresh token was already used; the sign-in is revoked.",
        "message": "The refresh token was already used; the sign-in is revoked.",
    }
    monkeypatch.undo()
    assert (await user.session()).status_code == 401, "the sign-in is ended"
    assert (await user.me()).json()["code"] == "invalid_token"


@pytest.mark.asvs("JWT-06")
async def test_a_refresh_racing_the_chains_revocation_issues_nothing(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rotation spends a token only while it is not revoked (one atomic statement): when the chain is revoked
    after the refresh has read the current token and before its rotation, no successor is written, so the
    revocation holds and no live refresh token is left."""
    user = await Chain(client, world).sign_up()
    revoke_before_rotation(monkeypatch, user.session_id)
    raced = await user.refresh()
    assert (raced.status_code, raced.json()["code"]) == (401, "invalid_grant")
    live = select(RefreshToken.id).where(RefreshToken.session_id == user.session_id, RefreshToken.revoked_at.is_(None))
    assert (await db.scalars(live)).all() == []
