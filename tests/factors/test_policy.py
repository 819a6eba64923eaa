"""The factor policy: per environment (its settings) for end users, per tenant (its new settings) for tenant
accounts. `required` gives an account without a factor an enrolment-only challenge; `off` refuses enrolment."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.factors import FactorChallenge
from sump.kit.crypto import token_digest
from tests.factors.conftest import Clock, challenge_of, end_user_with_totp, enrol_totp
from tests.links.conftest import events
from tests.support import PASSWORD, EndUser, TenantWorld, expire, signup_body


async def _set_environment_policy(
    client: httpx.AsyncClient, world: TenantWorld, environment_id: str, policy: str
) -> None:
    url = f"{world.base}/environments/{environment_id}"
    changed = await client.patch(url, json={"settings": {"factorPolicy": policy}}, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    assert (await client.get(url, headers=world.owner.auth)).json()["settings"]["factorPolicy"] == policy


async def test_environments_default_to_optional(client: httpx.AsyncClient, world: TenantWorld) -> None:
    shown = await client.get(f"{world.base}/environments/{world.environment_id}", headers=world.owner.auth)
    assert shown.json()["settings"]["factorPolicy"] == "optional"
    tenant = await client.get(world.base, headers=world.owner.auth)
    assert tenant.json()["settings"] == {"factorPolicy": "optional"}


async def _signed_in_where_required(client: httpx.AsyncClient, world: TenantWorld) -> tuple[EndUser, httpx.Response]:
    """An end user of a new environment whose factor policy is `required`, and their password's answer (202)."""
    environment_id = await world.add_environment()
    user = await world.add_end_user(environment_id)
    await _set_environment_policy(client, world, environment_id, "required")
    first = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert first.status_code == 202, first.text
    return user, first


async def test_required_policy_gives_an_enrolment_only_challenge(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    user, first = await _signed_in_where_required(client, world)
    body = first.json()
    assert body["enrol"] is True
    assert body["factors"] == ["totp"]
    assert "set-cookie" not in first.headers
    challenge = body["challenge"]

    # Only enrolment accepts it.
    refused = await client.post(f"{user.auth_base}/login/factor", json={"challenge": challenge, "code": "123456"})
    assert (refused.status_code, refused.json()["code"]) == (403, "enrolment_required")

    started = await client.post(f"{user.auth_base}/login/enrol/totp", json={"challenge": challenge})
    assert started.status_code == 201, started.text
    setup = started.json()
    confirm = f"{user.auth_base}/login/enrol/totp/confirm"
    wrong = await client.post(
        confirm, json={"challenge": challenge, "factorId": setup["factorId"], "code": clock.code(setup["secret"], 4)}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "invalid_code")
    done = await client.post(
        confirm, json={"challenge": challenge, "factorId": setup["factorId"], "code": clock.code(setup["secret"])}
    )
    assert done.status_code == 200, done.text
    signed_in = done.json()
    assert set(signed_in) == {"accountId", "session", "token", "recoveryCodes"}
    assert len(signed_in["recoveryCodes"]) == 10
    assert signed_in["session"]["amr"] == ["pwd", "otp", "mfa"]
    assert done.headers["set-cookie"].startswith("sump_session=")
    # The enrolment challenge is used up; the next sign-in asks for the new factor.
    again = await client.post(confirm, json={"challenge": challenge, "factorId": setup["factorId"], "code": "000000"})
    assert (again.status_code, again.json()["code"]) == (401, "invalid_challenge")
    next_time = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert next_time.json()["enrol"] is False


async def test_an_enrolment_challenge_ends_once_the_account_has_a_factor(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    """Under `required`, the password alone opens an enrolment challenge for an account without a factor. Once
    the owner enrols a factor in their own session, a challenge opened before by someone holding only the
    password must neither finish nor start an enrolment of theirs: either would sign them in past the owner's
    factor."""
    owner, first = await _signed_in_where_required(client, world)  # someone who has only the password
    challenge = first.json()["challenge"]
    started = await client.post(f"{owner.auth_base}/login/enrol/totp", json={"challenge": challenge})
    assert started.status_code == 201, started.text
    setup = started.json()
    _, factor_id, _ = await enrol_totp(client, owner.auth_base, owner.token, clock)  # the owner, meanwhile

    answer = {"challenge": challenge, "factorId": setup["factorId"], "code": clock.code(setup["secret"])}
    finished = await client.post(f"{owner.auth_base}/login/enrol/totp/confirm", json=answer)
    assert (finished.status_code, finished.json()["code"]) == (401, "invalid_challenge")
    restarted = await client.post(f"{owner.auth_base}/login/enrol/totp", json={"challenge": challenge})
    assert (restarted.status_code, restarted.json()["code"]) == (401, "invalid_challenge")
    listed = await client.get(f"{owner.auth_base}/me/factors", headers=owner.auth)
    assert [factor["id"] for factor in listed.json()["factors"]] == [factor_id]


async def test_a_sign_in_challenge_is_no_enrolment_challenge(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    challenge = await challenge_of(client, enrolled)
    response = await client.post(f"{enrolled.base}/login/enrol/totp", json={"challenge": challenge})
    assert (response.status_code, response.json()["code"]) == (403, "enrolment_not_required")


async def test_off_refuses_enrolment(client: httpx.AsyncClient, world: TenantWorld) -> None:
    environment_id = await world.add_environment()
    user = await world.add_end_user(environment_id)
    await _set_environment_policy(client, world, environment_id, "off")
    refused = await client.post(f"{user.auth_base}/me/factors/totp", json={}, headers=user.auth)
    assert (refused.status_code, refused.json()["code"]) == (403, "factors_off")
    assert (await client.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 200


@pytest.mark.parametrize("policy", ["optional", "off"])
async def test_accounts_without_a_factor_get_a_session_unless_required(
    client: httpx.AsyncClient, world: TenantWorld, policy: str
) -> None:
    environment_id = await world.add_environment()
    user = await world.add_end_user(environment_id)
    await _set_environment_policy(client, world, environment_id, policy)
    assert (await client.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 200


async def test_tenant_policy_covers_tenant_accounts_only(client: httpx.AsyncClient, world: TenantWorld) -> None:
    changed = await client.patch(world.base, json={"settings": {"factorPolicy": "required"}}, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    assert (await client.get(world.base, headers=world.owner.auth)).json()["settings"]["factorPolicy"] == "required"
    owner = await client.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"email": world.owner.email, "password": PASSWORD}
    )
    assert owner.status_code == 202
    assert owner.json()["enrol"] is True
    user = await world.add_end_user(world.environment_id)
    assert (await client.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 200


async def test_tenant_settings_are_validated(client: httpx.AsyncClient, world: TenantWorld) -> None:
    bodies: list[dict[str, Any]] = [
        {"settings": {"factorPolicy": "sometimes"}},
        {"settings": {}},
        {"settings": {"factorPolicy": None}},
    ]
    for body in bodies:
        response = await client.patch(world.base, json=body, headers=world.owner.auth)
        assert (response.status_code, response.json()["code"]) == (400, "validation_failed"), body
    user = await world.add_member("user")
    refused = await client.patch(world.base, json={"settings": {"factorPolicy": "off"}}, headers=user.auth)
    assert refused.status_code == 403


async def test_an_expired_enrolment_challenge_starts_no_enrolment(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user, first = await _signed_in_where_required(client, world)
    challenge = first.json()["challenge"]
    await expire(db, FactorChallenge, FactorChallenge.token_hash == token_digest(challenge))
    started = await client.post(f"{user.auth_base}/login/enrol/totp", json={"challenge": challenge})
    assert (started.status_code, started.json()["code"]) == (401, "invalid_challenge")
    assert "secret" not in started.json()


CHALLENGE_FIELDS = {"challenge", "factors", "enrol", "expiresIn"}


async def _signed_up_where_required(
    client: httpx.AsyncClient, world: TenantWorld, **environment: Any
) -> tuple[str, str, dict[str, Any], httpx.Response]:
    """A sign-up (answered 202) in a new environment whose policy is `required`: (the environment's id, its
    sign-in base URL, the sign-up's body, the answer)."""
    environment_id = await world.add_environment(**environment)
    await _set_environment_policy(client, world, environment_id, "required")
    base = f"/api/v1/auth/environments/{environment_id}"
    body = signup_body()
    signed_up = await client.post(f"{base}/signup", json=body)
    assert signed_up.status_code == 202, signed_up.text
    return environment_id, base, body, signed_up


async def test_sign_up_where_factors_are_required_ends_in_the_enrolment_challenge(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, db: AsyncSession
) -> None:
    """As a password sign-in of the new account would: no session until a factor is enrolled."""
    environment_id, base, body, signed_up = await _signed_up_where_required(client, world)
    answer = signed_up.json()
    assert set(answer) == CHALLENGE_FIELDS
    assert (answer["enrol"], answer["factors"], answer["expiresIn"]) == (True, ["totp"], 300)
    assert "set-cookie" not in signed_up.headers
    assert (await client.get(f"{base}/session")).status_code == 401
    listed = await client.get(f"/api/v1/environments/{environment_id}/accounts", headers=world.owner.auth)
    [account] = listed.json()
    assert (account["username"], account["emailVerified"]) == (body["username"], False)
    [event] = await events(db, "signup", target_id=account["id"])
    assert event.details == {"enrolment_required": True}
    assert await events(db, "login.succeeded", target_id=account["id"]) == []

    challenge = answer["challenge"]
    refused = await client.post(f"{base}/login/factor", json={"challenge": challenge, "code": "123456"})
    assert (refused.status_code, refused.json()["code"]) == (403, "enrolment_required")
    started = await client.post(f"{base}/login/enrol/totp", json={"challenge": challenge})
    assert started.status_code == 201, started.text
    setup = started.json()
    done = await client.post(
        f"{base}/login/enrol/totp/confirm",
        json={"challenge": challenge, "factorId": setup["factorId"], "code": clock.code(setup["secret"])},
    )
    assert done.status_code == 200, done.text
    signed_in = done.json()
    assert set(signed_in) == {"accountId", "session", "token", "recoveryCodes"}
    assert signed_in["accountId"] == account["id"]
    assert signed_in["session"]["amr"] == ["pwd", "otp", "mfa"]
    assert len(signed_in["recoveryCodes"]) == 10
    assert done.headers["set-cookie"].startswith("sump_session=")
    session = await client.get(f"{base}/session", headers={"Authorization": f"Bearer {signed_in['token']}"})
    assert session.status_code == 200, session.text
    assert session.json()["amr"] == ["pwd", "otp", "mfa"]


@pytest.mark.parametrize("policy", ["optional", "off"])
async def test_sign_up_signs_in_unless_factors_are_required(
    client: httpx.AsyncClient, world: TenantWorld, policy: str
) -> None:
    environment_id = await world.add_environment()
    await _set_environment_policy(client, world, environment_id, policy)
    signed_up = await client.post(f"/api/v1/auth/environments/{environment_id}/signup", json=signup_body())
    assert signed_up.status_code == 201, signed_up.text
    assert set(signed_up.json()) == {"accountId", "session", "token"}
    assert signed_up.json()["session"]["accountId"] == signed_up.json()["accountId"]
    assert signed_up.headers["set-cookie"].startswith("sump_session=")


async def test_sign_up_needing_a_verified_email_answers_that_first_where_factors_are_required(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The email first, as a sign-in asks for it first; once it is verified, the password leads to enrolment."""
    environment_id, base, body, signed_up = await _signed_up_where_required(
        client, world, settings={"requireVerifiedEmail": True}
    )
    answer = signed_up.json()
    assert set(answer) == {"accountId", "emailVerificationRequired", "message"}
    assert answer["emailVerificationRequired"] is True
    assert "set-cookie" not in signed_up.headers
    login = {"username": body["username"], "password": PASSWORD}
    unverified = await client.post(f"{base}/login", json=login)
    assert (unverified.status_code, unverified.json()["code"]) == (403, "email_unverified")

    vouched = await client.post(
        f"/api/v1/environments/{environment_id}/accounts/{answer['accountId']}/email-verified",
        headers=world.owner.auth,
    )
    assert vouched.status_code == 204, vouched.text
    first = await client.post(f"{base}/login", json=login)
    assert first.status_code == 202, first.text
    assert set(first.json()) == CHALLENGE_FIELDS
    assert first.json()["enrol"] is True
    assert "set-cookie" not in first.headers
