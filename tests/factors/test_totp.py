"""TOTP: enrolment (secret shown once, QR code drawn locally, confirmed with a first code, seed sealed at rest),
the ±1 step window, single use of a code within its window, and wrong codes held back by the lockout."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.audit import AuditEvent
from sump.db.tables.factors import Factor
from tests.factors.conftest import Clock, challenge_of, end_user_with_totp, enrol_totp
from tests.mail import SmtpServer
from tests.support import EndUser, Member, TenantWorld, bearer, new_tenant


async def test_enrolment_shows_the_secret_once_and_confirms_with_a_first_code(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, db: AsyncSession
) -> None:
    user = await world.add_end_user(world.environment_id)
    started = await client.post(f"{user.auth_base}/me/factors/totp", json={"label": "phone"}, headers=user.auth)
    assert started.status_code == 201, started.text
    setup = started.json()
    uri = urlsplit(setup["uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [setup["secret"]]
    assert setup["qrSvg"].startswith("<svg")
    assert setup["qrSvg"].rstrip().endswith("</svg>")
    # Pending until confirmed: sign-in is unchanged, the listing shows nothing yet.
    assert (await client.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 200
    listed = await client.get(f"{user.auth_base}/me/factors", headers=user.auth)
    assert listed.json() == {"factors": [], "recoveryCodesLeft": 0}

    confirm = f"{user.auth_base}/me/factors/{setup['factorId']}/confirm"
    wrong = await client.post(confirm, json={"code": clock.code(setup["secret"], 3)}, headers=user.auth)
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "invalid_code"
    done = await client.post(confirm, json={"code": clock.code(setup["secret"])}, headers=user.auth)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["factor"]["kind"] == "totp"
    assert body["factor"]["label"] == "phone"
    assert len(body["recoveryCodes"]) == 10
    assert len(set(body["recoveryCodes"])) == 10

    listed = (await client.get(f"{user.auth_base}/me/factors", headers=user.auth)).json()
    assert [factor["id"] for factor in listed["factors"]] == [setup["factorId"]]
    assert listed["recoveryCodesLeft"] == 10
    assert setup["secret"] not in str(listed)
    # The seed is sealed at rest: the stored bytes do not hold it.
    row = await db.scalar(select(Factor).where(Factor.id == uuid.UUID(setup["factorId"])))
    assert row is not None
    assert row.secret is not None
    assert setup["secret"].encode() not in row.secret
    # A pending factor cannot be confirmed twice.
    again = await client.post(confirm, json={"code": clock.code(setup["secret"], 1)}, headers=user.auth)
    assert (again.status_code, again.json()["code"]) == (404, "factor_not_found")


@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_another_accounts_factor_is_not_found_even_with_its_code(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, family: str
) -> None:
    """A factor is looked up within the signed-in account: someone who learnt another account's pending secret
    (shown once, at its enrolment) and its factor id can neither confirm it as their own nor remove it."""
    accounts: list[Member] | list[EndUser]
    if family == "tenant":
        accounts, base = [await world.add_member("user") for _ in range(2)], f"/api/v1/auth/tenants/{world.tenant_id}"
    else:
        accounts = [await world.add_end_user(world.environment_id) for _ in range(2)]
        base = f"/api/v1/auth/environments/{world.environment_id}"
    owner, other = accounts
    started = await client.post(f"{base}/me/factors/totp", json={"label": "phone"}, headers=owner.auth)
    assert started.status_code == 201, started.text
    setup = started.json()
    factor = f"{base}/me/factors/{setup['factorId']}"

    confirmed = await client.post(f"{factor}/confirm", json={"code": clock.code(setup["secret"])}, headers=other.auth)
    assert (confirmed.status_code, confirmed.json()["code"]) == (404, "factor_not_found")
    removed = await client.delete(factor, headers=other.auth)
    assert (removed.status_code, removed.json()["code"]) == (404, "factor_not_found")
    for account in (owner, other):
        listed = await client.get(f"{base}/me/factors", headers=account.auth)
        assert listed.json() == {"factors": [], "recoveryCodesLeft": 0}
    mine = await client.post(f"{factor}/confirm", json={"code": clock.code(setup["secret"])}, headers=owner.auth)
    assert mine.status_code == 200, "the owner's pending factor is untouched"


@pytest.mark.parametrize(("offset", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)])
async def test_codes_of_the_next_and_previous_step_count_and_no_further(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, offset: int, accepted: bool
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    clock.tick(3)  # well past the step the enrolment used
    challenge = await challenge_of(client, enrolled)
    answer = {"challenge": challenge, "code": clock.code(enrolled.seed, offset)}
    response = await client.post(f"{enrolled.base}/login/factor", json=answer)
    if accepted:
        assert response.status_code == 200, response.text
        assert response.json()["session"]["amr"] == ["pwd", "otp", "mfa"]
    else:
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_code"


async def test_a_code_works_once_within_its_window(client: httpx.AsyncClient, world: TenantWorld, clock: Clock) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    code = clock.code(enrolled.seed)
    first = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": await challenge_of(client, enrolled), "code": code}
    )
    assert first.status_code == 200, first.text
    replay = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": await challenge_of(client, enrolled), "code": code}
    )
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_code"
    # Nor does an older step's code work once a later one was used.
    older = await client.post(
        f"{enrolled.base}/login/factor",
        json={"challenge": await challenge_of(client, enrolled), "code": clock.code(enrolled.seed, -1)},
    )
    assert older.status_code == 401
    clock.tick()
    fresh = await client.post(
        f"{enrolled.base}/login/factor",
        json={"challenge": await challenge_of(client, enrolled), "code": clock.code(enrolled.seed)},
    )
    assert fresh.status_code == 200, fresh.text


async def test_the_enrolment_code_cannot_be_replayed_at_sign_in(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    user = await world.add_end_user(world.environment_id)
    setup = (await client.post(f"{user.auth_base}/me/factors/totp", json={}, headers=user.auth)).json()
    code = clock.code(setup["secret"])
    confirmed = await client.post(
        f"{user.auth_base}/me/factors/{setup['factorId']}/confirm", json={"code": code}, headers=user.auth
    )
    assert confirmed.status_code == 200
    challenge = (await client.post(f"{user.auth_base}/login", json=user.credentials)).json()["challenge"]
    replay = await client.post(f"{user.auth_base}/login/factor", json={"challenge": challenge, "code": code})
    assert (replay.status_code, replay.json()["code"]) == (401, "invalid_code")


@pytest.mark.asvs("AUTH-05")
async def test_wrong_codes_count_toward_the_lockout(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    wrong = clock.code(enrolled.seed, 5)
    for _ in range(6):  # the lockout's free attempts, and the one that starts its pacing
        response = await client.post(f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": wrong})
        assert (response.status_code, response.json()["code"]) == (401, "invalid_code")
    held = await client.post(f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": wrong})
    assert (held.status_code, held.json()["code"]) == (429, "too_many_attempts")
    assert int(held.headers["Retry-After"]) >= 1
    # The right code is held back too while the lockout holds, also after the password again: codes are counted
    # apart from the password (whose step goes on), so entering it again forgets none of them.
    right = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": clock.code(enrolled.seed)}
    )
    assert right.status_code == 429
    password = await client.post(f"{enrolled.base}/login", json=enrolled.login)
    assert password.status_code == 202, password.text
    again = {"challenge": password.json()["challenge"], "code": clock.code(enrolled.seed)}
    assert (await client.post(f"{enrolled.base}/login/factor", json=again)).status_code == 429


@pytest.mark.parametrize("digits", ["\u0661\u0662\u0663\u0664\u0665\u0666", "\uff11\uff12\uff13\uff14\uff15\uff16"])
async def test_a_code_of_non_ascii_digits_is_a_wrong_code(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, db: AsyncSession, digits: str
) -> None:
    """Arabic-Indic or fullwidth digits are digits to `str.isdigit` but not to the code comparison: sent as a
    code they must be a wrong code like any other (401, counted by the lockout, audited), never a server error."""
    user, enrolled = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    url = f"{enrolled.base}/login/factor"
    answers = [{"challenge": challenge, "code": digits}, {"challenge": challenge, "code": digits, "factor": "totp"}]
    for answer in answers * 3:  # the lockout's free attempts, and the one that starts its pacing
        response = await client.post(url, json=answer)
        assert (response.status_code, response.json()["code"]) == (401, "invalid_code")
    held = await client.post(url, json=answers[0])
    assert (held.status_code, held.json()["code"]) == (429, "too_many_attempts")
    audited = await db.scalars(
        select(AuditEvent.details).where(
            AuditEvent.action == "login.factor_failed", AuditEvent.target_id == uuid.UUID(user.account_id)
        )
    )
    assert sorted(details["code"] for details in audited) == ["invalid_code"] * 6 + ["too_many_attempts"]


async def test_step_up_codes_count_toward_the_lockout(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    for _ in range(6):
        response = await client.post(
            f"{enrolled.base}/step-up", json={"code": clock.code(enrolled.seed, 4)}, headers=enrolled.auth
        )
        assert (response.status_code, response.json()["code"]) == (403, "invalid_code")
    held = await client.post(
        f"{enrolled.base}/step-up", json={"code": clock.code(enrolled.seed)}, headers=bearer(enrolled.token)
    )
    assert (held.status_code, held.json()["code"]) == (429, "too_many_attempts")


async def test_the_account_is_told_by_email_when_a_factor_is_added_or_removed(
    mail_app: FastAPI, smtp: SmtpServer, clock: Clock
) -> None:
    """A stolen session could otherwise swap the account's factors unseen: as an admin's reset is told by
    email, so is a factor added or removed from the account's own session."""
    transport = httpx.ASGITransport(app=mail_app, raise_app_exceptions=False, client=("203.0.113.12", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        world = await new_tenant(http)
        user = await world.add_end_user(world.environment_id)
        _, factor_id, _ = await enrol_totp(http, user.auth_base, user.token, clock)
        removed = await http.delete(f"{user.auth_base}/me/factors/{factor_id}", headers=user.auth)
        assert removed.status_code == 204, removed.text

    assert await mail_app.state.outbox.run_once() >= 2
    added, gone = smtp.inbox.wait_for(user.email), smtp.inbox.wait_for(user.email, 2)
    assert (added["To"], added["Subject"]) == (user.email, "A second factor was added to your account")
    assert "an authenticator app" in added.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert (gone["To"], gone["Subject"]) == (user.email, "A second factor was removed from your account")
    assert "your password alone signs in" in gone.get_body(("plain",)).get_content()  # type: ignore[union-attr]
