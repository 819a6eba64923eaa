"""`amr` in `/me`, the session view and access tokens (kept through refresh); the token endpoint's password
grant answers `mfa_required` with a challenge, and the mfa grant finishes it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factors.conftest import Clock, end_user_with_totp
from tests.support import TenantWorld, bearer
from tests.tokens.test_tokens import jwks, password_grant, refresh, verify

MFA_GRANT = "urn:sump:params:oauth:grant-type:mfa"


def token_url(world: TenantWorld) -> str:
    return f"/api/v1/auth/environments/{world.environment_id}/token"


async def mfa_tokens(client: httpx.AsyncClient, world: TenantWorld, login: dict[str, str], code: str) -> dict[str, Any]:
    first = await client.post(token_url(world), json={"grantType": "password", **login})
    assert first.status_code == 403, first.text
    refusal = first.json()
    assert first.headers["content-type"].startswith("application/problem+json")
    assert refusal["code"] == refusal["error"] == "mfa_required"
    assert refusal["factors"] == ["totp", "recovery_code"]
    assert refusal["enrol"] is False
    assert refusal["expiresIn"] == 300
    second = await client.post(
        token_url(world), json={"grantType": MFA_GRANT, "challenge": refusal["challenge"], "code": code}
    )
    assert second.status_code == 200, second.text
    tokens: dict[str, Any] = second.json()
    return tokens


async def test_the_password_grant_takes_two_steps_and_tokens_carry_amr(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    tokens = await mfa_tokens(client, world, enrolled.login, clock.code(enrolled.seed))
    claims = verify(tokens["accessToken"], await jwks(client, world), world)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    me = await client.get(f"/api/v1/auth/environments/{world.environment_id}/me", headers=bearer(tokens["accessToken"]))
    assert me.json()["amr"] == ["pwd", "otp", "mfa"]
    refreshed = await refresh(client, world, tokens["refreshToken"])
    assert refreshed.status_code == 200
    assert verify(refreshed.json()["accessToken"], await jwks(client, world), world)["amr"] == ["pwd", "otp", "mfa"]


async def test_the_mfa_grant_refuses_a_wrong_or_used_answer(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    first = await client.post(token_url(world), json={"grantType": "password", **enrolled.login})
    challenge = first.json()["challenge"]
    wrong = await client.post(
        token_url(world), json={"grantType": MFA_GRANT, "challenge": challenge, "code": clock.code(enrolled.seed, 2)}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_code")
    right = {"grantType": MFA_GRANT, "challenge": challenge, "code": clock.code(enrolled.seed)}
    assert (await client.post(token_url(world), json=right)).status_code == 200
    clock.tick()
    right["code"] = clock.code(enrolled.seed)
    used = await client.post(token_url(world), json=right)
    assert (used.status_code, used.json()["code"]) == (401, "invalid_challenge")
    incomplete = await client.post(token_url(world), json={"grantType": MFA_GRANT, "challenge": challenge})
    assert incomplete.status_code == 400


async def test_a_recovery_code_answers_the_grant_with_rc(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    tokens = await mfa_tokens(client, world, enrolled.login, enrolled.recovery_codes[0])
    assert verify(tokens["accessToken"], await jwks(client, world), world)["amr"] == ["pwd", "rc", "mfa"]


async def test_password_only_sign_ins_say_pwd(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    tokens = await password_grant(client, world, user)
    assert verify(tokens["accessToken"], await jwks(client, world), world)["amr"] == ["pwd"]
    me = await client.get(f"/api/v1/auth/environments/{world.environment_id}/me", headers=user.auth)
    assert me.json()["amr"] == ["pwd"]
    session = await client.get(f"{user.auth_base}/session", headers=user.auth)
    assert "amr" not in session.json()  # the session view of a password-only sign-in is the original's


async def test_me_by_session_says_how_it_signed_in(client: httpx.AsyncClient, world: TenantWorld, clock: Clock) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    challenge = (await client.post(f"{enrolled.base}/login", json=enrolled.login)).json()["challenge"]
    done = await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": clock.code(enrolled.seed)}
    )
    token = done.json()["token"]
    me = await client.get(f"/api/v1/auth/environments/{world.environment_id}/me", headers=bearer(token))
    assert me.json()["amr"] == ["pwd", "otp", "mfa"]
    listed = await client.get(f"{enrolled.base}/sessions", headers=bearer(token))
    current = [session for session in listed.json() if session["current"]]
    assert current[0]["amr"] == ["pwd", "otp", "mfa"]
