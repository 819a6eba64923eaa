"""The two-step sign-in: the password step answers a challenge and no session; `…/login/factor` finishes it
with what `/login` answers. Challenges are single-use (one winner among concurrent answers), bound to their
pool and account, and live five minutes. Accounts without a factor see no change."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.audit import AuditEvent
from sump.db.tables.factors import FactorChallenge
from sump.db.tables.sessions import Session
from sump.factors import service as factors
from sump.kit.crypto import token_digest
from sump.kit.logging import LineWriter
from sump.kit.passwords import PasswordHasher
from tests.factors.conftest import Clock, challenge_of, end_user_with_totp, enrol_totp, member_with_totp
from tests.support import PASSWORD, TenantWorld, bearer


async def test_password_step_answers_a_challenge_and_sets_no_session(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    first = await client.post(f"{enrolled.base}/login", json=enrolled.login)
    assert first.status_code == 202
    assert "set-cookie" not in first.headers
    body = first.json()
    assert set(body) == {"challenge", "factors", "enrol", "expiresIn"}
    assert body["factors"] == ["totp", "recovery_code"]
    assert body["enrol"] is False
    assert body["expiresIn"] == 300
    # The challenge is no session.
    assert (await client.get(f"{enrolled.base}/session", headers=bearer(body["challenge"]))).status_code == 401

    second = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": body["challenge"], "code": clock.code(enrolled.seed)}
    )
    assert second.status_code == 200, second.text
    done = second.json()
    assert set(done) == {"accountId", "session", "token"}
    assert second.headers["set-cookie"].startswith("sump_session=")
    session = await client.get(f"{enrolled.base}/session", headers=bearer(done["token"]))
    assert session.status_code == 200
    assert session.json()["amr"] == ["pwd", "otp", "mfa"]


async def test_accounts_without_a_factor_sign_in_as_before(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    response = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert response.status_code == 200
    assert set(response.json()) == {"accountId", "session", "token"}
    assert "amr" not in response.json()["session"]
    tenant_login = await client.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"email": world.owner.email, "password": "x" * 8}
    )
    assert tenant_login.status_code == 401


async def test_a_challenge_is_used_once(client: httpx.AsyncClient, world: TenantWorld, clock: Clock) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    first = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": clock.code(enrolled.seed)}
    )
    assert first.status_code == 200
    clock.tick()
    again = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": clock.code(enrolled.seed)}
    )
    assert (again.status_code, again.json()["code"]) == (401, "invalid_challenge")


async def test_concurrent_answers_have_one_winner(client: httpx.AsyncClient, world: TenantWorld, clock: Clock) -> None:
    """Two different valid answers (a TOTP code and a recovery code) at once: the challenge decides."""
    _, enrolled = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    url = f"{enrolled.base}/login/factor"
    answers = await asyncio.gather(
        client.post(url, json={"challenge": challenge, "code": clock.code(enrolled.seed)}),
        client.post(url, json={"challenge": challenge, "code": enrolled.recovery_codes[0]}),
    )
    assert sorted(response.status_code for response in answers) == [200, 401]
    [loser] = [response for response in answers if response.status_code == 401]
    assert loser.json()["code"] == "invalid_challenge"


async def test_concurrent_uses_of_one_code_have_one_winner(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    code = clock.code(enrolled.seed)
    challenges = [await challenge_of(client, enrolled), await challenge_of(client, enrolled)]
    answers = await asyncio.gather(
        *(client.post(f"{enrolled.base}/login/factor", json={"challenge": c, "code": code}) for c in challenges)
    )
    assert sorted(response.status_code for response in answers) == [200, 401]


async def test_a_challenge_counts_only_in_its_own_pool(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    answer = {"challenge": challenge, "code": clock.code(enrolled.seed)}
    sibling = await world.add_environment()
    elsewhere = [
        f"/api/v1/auth/environments/{sibling}/login/factor",
        f"/api/v1/auth/environments/{other.environment_id}/login/factor",
        f"/api/v1/auth/tenants/{world.tenant_id}/login/factor",
    ]
    for url in elsewhere:
        response = await client.post(url, json=answer)
        assert (response.status_code, response.json()["code"]) == (401, "invalid_challenge"), url
    # Still good where it was made.
    assert (await client.post(f"{enrolled.base}/login/factor", json=answer)).status_code == 200


async def test_a_challenge_is_answered_with_its_own_accounts_factor(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, mine = await end_user_with_totp(client, world, clock)
    _, theirs = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, mine)
    for code in (clock.code(theirs.seed), theirs.recovery_codes[0]):
        response = await client.post(f"{mine.base}/login/factor", json={"challenge": challenge, "code": code})
        assert (response.status_code, response.json()["code"]) == (401, "invalid_code")


async def test_an_expired_challenge_is_refused(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, db: AsyncSession
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    await db.execute(
        update(FactorChallenge)
        .where(FactorChallenge.token_hash == token_digest(challenge))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    response = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": clock.code(enrolled.seed)}
    )
    assert (response.status_code, response.json()["code"]) == (401, "invalid_challenge")


async def test_challenges_are_stored_hashed(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, db: AsyncSession
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    row = await db.scalar(select(FactorChallenge).where(FactorChallenge.token_hash == token_digest(challenge)))
    assert row is not None
    assert challenge.encode() not in row.token_hash
    assert row.expires_at - row.created_at == timedelta(minutes=5)


@pytest.mark.parametrize("garbage", ["", "x" * 257, "not-a-challenge"])
async def test_malformed_answers(client: httpx.AsyncClient, world: TenantWorld, garbage: str) -> None:
    url = f"/api/v1/auth/environments/{world.environment_id}/login/factor"
    response = await client.post(url, json={"challenge": garbage, "code": "123456"})
    if garbage == "not-a-challenge":
        assert (response.status_code, response.json()["code"]) == (401, "invalid_challenge")
    else:
        assert response.status_code == 400


async def test_tenant_accounts_sign_in_in_two_steps(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await member_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    done = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": clock.code(enrolled.seed)}
    )
    assert done.status_code == 200, done.text
    assert done.json()["session"]["accountType"] == "tenant_account"
    assert done.json()["session"]["amr"] == ["pwd", "otp", "mfa"]
    # A tenant account's challenge is worthless on its tenant's environments.
    clock.tick()
    challenge = await challenge_of(client, enrolled)
    elsewhere = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/login/factor",
        json={"challenge": challenge, "code": clock.code(enrolled.seed)},
    )
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (401, "invalid_challenge")


async def test_a_challenge_is_never_logged_nor_audited(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, db: AsyncSession
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    url = f"{enrolled.base}/login/factor"
    lines: list[str] = []

    def keep(_: LineWriter, message: str) -> None:
        lines.append(message)

    with pytest.MonkeyPatch.context() as patch:
        for level in ("msg", "log", "debug", "info", "warn", "warning", "error", "exception", "critical"):
            patch.setattr(LineWriter, level, keep)  # every record written meanwhile
        challenge = await challenge_of(client, enrolled)
        await client.post(url, json={"challenge": challenge, "code": clock.code(enrolled.seed, 3)})
        answer = {"challenge": challenge, "code": clock.code(enrolled.seed)}
        assert (await client.post(url, json=answer)).status_code == 200
    logged = "\n".join(lines)
    assert "/login/factor" in logged  # the requests were logged…
    assert challenge not in logged  # …without the challenge
    details = await db.scalars(select(AuditEvent.details).where(AuditEvent.tenant_id == uuid.UUID(world.tenant_id)))
    recorded = json.dumps(list(details))
    assert "login.factor_failed" in recorded or "invalid_code" in recorded
    assert challenge not in recorded


async def test_expired_challenges_are_purged(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, db: AsyncSession
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    live, expired = await challenge_of(client, enrolled), await challenge_of(client, enrolled)
    await db.execute(
        update(FactorChallenge)
        .where(FactorChallenge.token_hash == token_digest(expired))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    assert await factors.purge_expired(db) >= 1
    await db.commit()
    remaining = await db.scalars(
        select(FactorChallenge.token_hash).where(
            FactorChallenge.token_hash.in_([token_digest(live), token_digest(expired)])
        )
    )
    assert list(remaining) == [token_digest(live)]


async def test_an_account_disabled_after_its_password_cannot_finish_the_sign_in(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    user, enrolled = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    disabled = await client.patch(
        f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/disable", headers=world.owner.auth
    )
    assert disabled.status_code == 204
    response = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": clock.code(enrolled.seed)}
    )
    assert (response.status_code, response.json()["code"]) == (401, "invalid_challenge")
    assert "token" not in response.json()


async def test_a_sign_in_in_progress_ends_with_the_accounts_sessions(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    """Disabling the account, or signing it out everywhere, ends a sign-in between its steps for good: enabled
    again, the account's earlier challenge finishes nothing."""
    user, enrolled = await end_user_with_totp(client, world, clock)
    account = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    for end in ("disable", "sign out everywhere"):
        challenge = await challenge_of(client, enrolled)
        if end == "disable":
            assert (await client.patch(f"{account}/disable", headers=world.owner.auth)).status_code == 204
            assert (await client.patch(f"{account}/enable", headers=world.owner.auth)).status_code == 204
        else:
            assert (await client.delete(f"{account}/sessions", headers=world.owner.auth)).status_code == 200
        response = await client.post(
            f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": clock.code(enrolled.seed)}
        )
        assert (response.status_code, response.json()["code"]) == (401, "invalid_challenge"), end


@pytest.mark.parametrize(
    ("family", "way"), [("tenant", "login"), ("environment", "login"), ("environment", "password grant")]
)
async def test_a_sign_in_whose_hash_ran_while_the_first_factor_was_confirmed_gets_no_session(
    client: httpx.AsyncClient,
    world: TenantWorld,
    app: FastAPI,
    db: AsyncSession,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    family: str,
    way: str,
) -> None:
    """The step after the password is chosen by the factors read before the hash. The owner confirms a first
    factor while someone's sign-in with the password hashes: that sign-in, which read no factor, is refused
    rather than given a session on the password alone; the next one is asked for the factor."""
    if family == "tenant":
        member = await world.add_member("user")
        base, token, account_id = f"/api/v1/auth/tenants/{world.tenant_id}", member.token, member.account_id
        login = {"username": member.username, "password": PASSWORD}
    else:
        user = await world.add_end_user(world.environment_id)
        base, token, account_id, login = user.auth_base, user.token, user.account_id, user.credentials
    hasher: PasswordHasher = app.state.hasher
    checked = hasher.verify

    async def enrolled_meanwhile(
        stored: str | None, password: str, legacy_cost: int | None = None
    ) -> tuple[bool, str | None]:
        monkeypatch.setattr(hasher, "verify", checked)
        verified = await checked(stored, password, legacy_cost)
        await enrol_totp(client, base, token, clock)
        return verified

    monkeypatch.setattr(hasher, "verify", enrolled_meanwhile)
    if way == "login":
        raced = await client.post(f"{base}/login", json=login)
    else:  # the token endpoint's sign-in writes its refresh token after it, in the same transaction
        raced = await client.post(f"{base}/token", json={"grantType": "password", **login})
    assert (raced.status_code, raced.json()["code"]) == (401, "invalid_credentials"), raced.text
    assert "refreshToken" not in raced.json()
    scope = f"tenants/{world.tenant_id}" if family == "tenant" else f"environments/{world.environment_id}"
    audit = await client.get(
        f"/api/v1/{scope}/audit-events", params={"action": "login.failed"}, headers=world.owner.auth
    )
    [failed] = audit.json()
    assert failed["targetId"] == account_id
    assert failed["details"]["reason"] == "account_changed"  # the password was right: support can tell
    assert "set-cookie" not in raced.headers
    live = select(func.count()).select_from(Session).where(Session.account_id == uuid.UUID(account_id))
    assert await db.scalar(live) == 1  # the owner's own, which enrolled the factor
    again = await client.post(f"{base}/login", json=login)
    assert again.status_code == 202, again.text
    assert again.json()["factors"] == ["totp", "recovery_code"]
