"""Per-address limits on sign-in, forgotten-password and reset-password, for tenant accounts and end users,
with rate limits on and the clients behind a trusted proxy (their address comes from `X-Forwarded-For`).

Each attempt uses an identifier of its own, so that only the per-address budget can refuse it (never a
per-account counter).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from sump.factors import totp
from tests.factors.conftest import Clock, enrol_totp
from tests.oidc.support import CALLBACK, new_rp, tokens_for
from tests.support import PASSWORD, Database, make_settings, new_tenant, signup_body, within_one_window_of_the_clock

PROXY = "192.0.2.10"
ATTACKER, NEIGHBOUR = "198.51.100.7", "198.51.100.8"
# Requests one address may make per minute, per route family.
LOGIN_BUDGET = 30
FORGOT_BUDGET = RESET_BUDGET = 10
AUTHORIZE_BUDGET = 120


@pytest.fixture
async def limited_app(database: Database) -> AsyncIterator[FastAPI]:
    """Rate limits on (counters in memory, fresh for each test), with one trusted proxy."""
    app = create_app(make_settings(database, rate_limits=True, trusted_proxies=["192.0.2.0/24"]))
    yield app
    await app.state.engine.dispose()
    app.state.hasher.close()


@pytest.fixture
async def http(limited_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests arrive from the trusted proxy."""
    transport = httpx.ASGITransport(app=limited_app, raise_app_exceptions=False, client=(PROXY, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as client:
        yield client


def from_ip(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def nobody() -> str:
    return f"nobody-{uuid.uuid4().hex[:12]}@example.com"


@dataclass
class Account:
    auth_base: str
    email: str


async def account_of(http: httpx.AsyncClient, family: str) -> Account:
    """A tenant's owner, or an end user of the tenant's environment, with password `PASSWORD`."""
    world = await new_tenant(http)
    if family == "tenant":
        return Account(f"/api/v1/auth/tenants/{world.tenant_id}", world.owner.email)
    user = await world.add_end_user(world.environment_id)
    return Account(user.auth_base, user.email)


def assert_rate_limited(response: httpx.Response, media_type: str = "application/problem+json") -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def assert_oauth_rate_limited(response: httpx.Response) -> None:
    """An OAuth client's form is refused as an OAuth error (RFC 6749 §5.2: JSON), which the client reads."""
    assert_rate_limited(response, "application/json")
    assert response.json()["error"] == "temporarily_unavailable"


async def spend_the_budget(
    http: httpx.AsyncClient, url: str, budget: int, attempt: Callable[[], dict[str, str]], answer: tuple[int, str]
) -> None:
    """`budget` attempts from the attacker's address, each the route's own `answer` (status, code); the next is
    refused for the address (429) while the neighbour's still gets the route's answer."""
    await within_one_window_of_the_clock(40)
    for _ in range(budget):
        refused = await http.post(url, json=attempt(), headers=from_ip(ATTACKER))
        assert (refused.status_code, refused.json()["code"]) == answer
    limited = await http.post(url, json=attempt(), headers=from_ip(ATTACKER))

    assert_rate_limited(limited)
    elsewhere = await http.post(url, json=attempt(), headers=from_ip(NEIGHBOUR))
    assert (elsewhere.status_code, elsewhere.json()["code"]) == answer


@pytest.mark.asvs("AUTH-03", "AUTH-04", "VAL-08")
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_login_past_the_per_address_budget_is_429(http: httpx.AsyncClient, family: str) -> None:
    account = await account_of(http, family)
    url = f"{account.auth_base}/login"

    await within_one_window_of_the_clock(40)
    for _ in range(LOGIN_BUDGET):
        failed = await http.post(url, json={"email": nobody(), "password": PASSWORD}, headers=from_ip(ATTACKER))
        assert (failed.status_code, failed.json()["code"]) == (401, "invalid_credentials")
    right_password = {"email": account.email, "password": PASSWORD}
    limited = await http.post(url, json=right_password, headers=from_ip(ATTACKER))

    assert_rate_limited(limited)
    assert "set-cookie" not in limited.headers
    elsewhere = await http.post(url, json=right_password, headers=from_ip(NEIGHBOUR))
    assert elsewhere.status_code == 200, elsewhere.text


@pytest.mark.asvs("RST-08", "VAL-08")
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_forgot_password_past_the_per_address_budget_is_429(http: httpx.AsyncClient, family: str) -> None:
    account = await account_of(http, family)
    url = f"{account.auth_base}/forgot-password"

    await within_one_window_of_the_clock(40)
    for _ in range(FORGOT_BUDGET):
        answered = await http.post(url, json={"email": nobody()}, headers=from_ip(ATTACKER))
        assert answered.status_code == 200, answered.text
    limited = await http.post(url, json={"email": account.email}, headers=from_ip(ATTACKER))

    assert_rate_limited(limited)
    elsewhere = await http.post(url, json={"email": account.email}, headers=from_ip(NEIGHBOUR))
    assert elsewhere.status_code == 200, elsewhere.text


@pytest.mark.asvs("RST-08", "VAL-08")
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_reset_password_past_the_per_address_budget_is_429(http: httpx.AsyncClient, family: str) -> None:
    account = await account_of(http, family)
    url = f"{account.auth_base}/reset-password"

    def attempt() -> dict[str, str]:
        return {"token": uuid.uuid4().hex * 2, "newPassword": "a brand new passphrase"}

    await spend_the_budget(http, url, RESET_BUDGET, attempt, (400, "invalid_token"))


# Each budget below is the route's own, counted per address; a refusal of the request itself still counts.
TOKEN_BUDGET = AUTOMATION_TOKEN_BUDGET = 60
SIGNUP_BUDGET = 10


@pytest.mark.asvs("VAL-08")
async def test_environment_token_endpoint_past_the_per_address_budget_is_429(http: httpx.AsyncClient) -> None:
    world = await new_tenant(http)
    url = f"/api/v1/auth/environments/{world.environment_id}/token"

    def attempt() -> dict[str, str]:
        return {"grantType": "refresh_token", "refreshToken": uuid.uuid4().hex * 2}

    await spend_the_budget(http, url, TOKEN_BUDGET, attempt, (401, "invalid_grant"))


@pytest.mark.asvs("VAL-08")
async def test_automation_token_endpoint_past_the_per_address_budget_is_429(http: httpx.AsyncClient) -> None:
    """Guessing an automation client's secret is held per address, and the right secret is refused too once the
    address is past its budget."""
    world = await new_tenant(http)
    created = await http.post(
        f"{world.base}/clients", json={"name": "robot", "permissions": ["end_users:read"]}, headers=world.owner.auth
    )
    assert created.status_code == 201, created.text
    robot = created.json()
    url = f"/api/v1/auth/tenants/{world.tenant_id}/token"

    def form(secret: str) -> dict[str, str]:
        return {"grant_type": "client_credentials", "client_id": robot["clientId"], "client_secret": secret}

    await within_one_window_of_the_clock(40)
    for _ in range(AUTOMATION_TOKEN_BUDGET):
        refused = await http.post(url, data=form(uuid.uuid4().hex), headers=from_ip(ATTACKER))
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    limited = await http.post(url, data=form(robot["clientSecret"]), headers=from_ip(ATTACKER))

    assert_oauth_rate_limited(limited)
    assert "access_token" not in limited.json()
    elsewhere = await http.post(url, data=form(robot["clientSecret"]), headers=from_ip(NEIGHBOUR))
    assert elsewhere.status_code == 200, elsewhere.text
    assert elsewhere.json()["scope"] == "end_users:read"


@pytest.mark.asvs("VAL-08")
async def test_passkey_options_draw_on_the_sign_in_budget(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call of a sign-in's passkey options writes a challenge: username-less or after a name, and those
    of a second step after the password, count against the address's sign-in budget like the password does."""
    clock = Clock()
    monkeypatch.setattr(totp, "now", clock)
    world = await new_tenant(http)
    user = await world.add_end_user(world.environment_id)
    await enrol_totp(http, user.auth_base, user.token, clock)

    await within_one_window_of_the_clock(40)
    first = await http.post(
        f"{user.auth_base}/login", json={"email": user.email, "password": PASSWORD}, headers=from_ip(ATTACKER)
    )
    assert first.status_code == 202, first.text
    challenge = {"challenge": first.json()["challenge"]}
    spent = 1
    for path, body in (("login/passkey/options", {}), ("login/factor/options", challenge)):
        for _ in range(LOGIN_BUDGET // 2 - spent):
            answered = await http.post(f"{user.auth_base}/{path}", json=body, headers=from_ip(ATTACKER))
            assert answered.status_code != 429, answered.text
        spent = 0
    limited = await http.post(f"{user.auth_base}/login/factor/options", json=challenge, headers=from_ip(ATTACKER))
    assert_rate_limited(limited)
    assert_rate_limited(await http.post(f"{user.auth_base}/login/passkey/options", json={}, headers=from_ip(ATTACKER)))
    elsewhere = await http.post(f"{user.auth_base}/login/passkey/options", json={}, headers=from_ip(NEIGHBOUR))
    assert elsewhere.status_code != 429, elsewhere.text


OAUTH_REFUSED_BUDGET = 60


@pytest.mark.asvs("VAL-08")
async def test_oauth_clients_are_held_to_their_failed_authentications_not_to_their_traffic(
    http: httpx.AsyncClient,
) -> None:
    """An application's backend exchanges and refreshes for all its end users from one address: more than the
    JSON grants' budget of successes goes through, and so do its refused grants (an expired token, or a junk
    code an attacker had it send). Failed client authentications (a wrong secret), at the token, revocation
    and introspection endpoints together, are held to one budget per address, past which even a right request
    is refused (an OAuth error the client can read); the neighbour is not."""
    world = await new_tenant(http)
    rp = await new_rp(http, world)
    user = await world.add_end_user(world.environment_id)
    refresh = (await tokens_for(http, rp, user))["refresh_token"]

    await within_one_window_of_the_clock(40)
    for _ in range(TOKEN_BUDGET + 10):
        rotated = await http.post(
            rp.token_url,
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            headers=from_ip(ATTACKER) | rp.basic,
        )
        assert rotated.status_code == 200, rotated.text
        refresh = rotated.json()["refresh_token"]
    for _ in range(OAUTH_REFUSED_BUDGET + 10):
        junk = {"grant_type": "authorization_code", "code": uuid.uuid4().hex * 2, "redirect_uri": CALLBACK}
        spent = await http.post(rp.token_url, data=junk, headers=from_ip(ATTACKER) | rp.basic)
        assert (spent.status_code, spent.json()["error"]) == (400, "invalid_grant")
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{rp.client_id}:not-the-secret".encode()).decode()}
    paths = [rp.token_url, f"{rp.token_url}/revoke", f"{rp.token_url}/introspect"]
    for attempt in range(OAUTH_REFUSED_BUDGET):
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "token": refresh}
        refused = await http.post(paths[attempt % 3], data=form, headers=from_ip(ATTACKER) | wrong)
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    right = {"grant_type": "refresh_token", "refresh_token": refresh}
    for path in paths:
        assert_oauth_rate_limited(
            await http.post(path, data=right | {"token": refresh}, headers=from_ip(ATTACKER) | rp.basic)
        )
    elsewhere = await http.post(rp.token_url, data=right, headers=from_ip(NEIGHBOUR) | rp.basic)
    assert elsewhere.status_code == 200, elsewhere.text


@pytest.mark.asvs("VAL-08")
async def test_signup_past_the_per_address_budget_is_429(http: httpx.AsyncClient) -> None:
    """Sign-up counts each attempt of the address before anything else, even where it is turned off."""
    world = await new_tenant(http)
    environment = f"{world.base}/environments/{world.environment_id}"
    off = await http.patch(environment, json={"settings": {"signupEnabled": False}}, headers=world.owner.auth)
    assert off.status_code == 204, off.text
    url = f"/api/v1/auth/environments/{world.environment_id}/signup"

    await spend_the_budget(http, url, SIGNUP_BUDGET, signup_body, (403, "signup_disabled"))


MAGIC_LINK_SIGN_IN_BUDGET = 10


@pytest.mark.asvs("AUTH-07", "VAL-08")
async def test_magic_link_sign_in_past_the_per_address_budget_is_429(http: httpx.AsyncClient) -> None:
    """Following an emailed sign-in link issues a session as `/login` does: its attempts are counted per address
    like the other redemptions of an emailed token (reset, verification, invitation)."""
    world = await new_tenant(http)
    environment_id = await world.add_environment(settings={"magicLinksEnabled": True, "emailVerification": False})
    url = f"/api/v1/auth/environments/{environment_id}/magic-link/sign-in"

    def attempt() -> dict[str, str]:
        return {"token": uuid.uuid4().hex * 2}

    await spend_the_budget(http, url, MAGIC_LINK_SIGN_IN_BUDGET, attempt, (400, "invalid_token"))


# The redemptions and look-ups of an emailed invitation: each route's budget per address, and what its body
# takes beside the token.
PROFILE = ("name", "username", "password")
INVITATION_ROUTES = {
    "tenant accept": ("/api/v1/auth/tenants/{tenant}/invitations/accept", 10, PROFILE),
    "tenant lookup": ("/api/v1/auth/tenants/{tenant}/invitations/lookup", 30, ()),
    "end user sets a password": ("/api/v1/auth/environments/{environment}/invitations/set-password", 10, ("password",)),
    "organization sign-up": ("/api/v1/auth/environments/{environment}/invitations/signup", 10, PROFILE),
    "environment lookup": ("/api/v1/auth/environments/{environment}/invitations/lookup", 30, ()),
}


@pytest.mark.asvs("VAL-08")
@pytest.mark.parametrize("route", list(INVITATION_ROUTES))
async def test_invitation_tokens_past_the_per_address_budget_are_429(http: httpx.AsyncClient, route: str) -> None:
    """An invitation's token is guessed like a reset token: each route that takes one counts the address's
    attempts, wrong tokens included, and refuses past its budget whatever the token."""
    world = await new_tenant(http)
    template, budget, fields = INVITATION_ROUTES[route]
    url = template.format(tenant=world.tenant_id, environment=world.environment_id)

    def attempt() -> dict[str, str]:
        profile = {"name": "Guess Work", "username": f"guess_{uuid.uuid4().hex[:8]}", "password": PASSWORD}
        return {"token": uuid.uuid4().hex * 2, **{field: profile[field] for field in fields}}

    await spend_the_budget(http, url, budget, attempt, (400, "invalid_token"))


@pytest.mark.asvs("VAL-08")
async def test_a_forged_line_above_the_proxys_own_does_not_move_the_budget(http: httpx.AsyncClient) -> None:
    """A proxy that adds its own `X-Forwarded-For` line below the client's (HAProxy's `option forwardfor`) sends
    two lines: they are one list (RFC 9110 §5.3), read from the right, so a new address forged in the client's
    line each time does not buy a fresh budget."""
    account = await account_of(http, "environment")
    url = f"{account.auth_base}/forgot-password"

    def forged(n: int) -> list[tuple[str, str]]:
        return [("X-Forwarded-For", f"203.0.113.{n}"), ("X-Forwarded-For", ATTACKER)]

    await within_one_window_of_the_clock(40)
    for n in range(FORGOT_BUDGET):
        answered = await http.post(url, json={"email": nobody()}, headers=forged(n))
        assert answered.status_code == 200, answered.text
    assert_rate_limited(await http.post(url, json={"email": nobody()}, headers=forged(FORGOT_BUDGET)))
    elsewhere = await http.post(url, json={"email": nobody()}, headers=from_ip(NEIGHBOUR))
    assert elsewhere.status_code == 200, elsewhere.text


@pytest.mark.asvs("AUTH-03")
async def test_authorization_requests_past_the_per_address_budget_are_429(http: httpx.AsyncClient) -> None:
    """120 a minute from one address, by GET and by POST each: a posted request's GET (the 303 it is answered
    with) counts against the GET's budget only, so a client that posts its requests gets as many sign-ins a
    minute as one that does not."""
    world = await new_tenant(http)
    url = f"/api/v1/environments/{world.environment_id}/authorize"
    query = {"client_id": f"sump_{uuid.uuid4().hex}", "response_type": "code"}
    await within_one_window_of_the_clock(40)
    for _ in range(AUTHORIZE_BUDGET):
        posted = await http.post(url, data=query, headers=from_ip(ATTACKER))
        assert posted.status_code == 303, posted.text
        followed = await http.get(url, params=query, headers=from_ip(ATTACKER))
        assert followed.status_code == 400, followed.text  # the unknown client's own answer
    assert_rate_limited(await http.post(url, data=query, headers=from_ip(ATTACKER)))
    assert_rate_limited(await http.get(url, params=query, headers=from_ip(ATTACKER)))
    assert (await http.get(url, params=query, headers=from_ip(NEIGHBOUR))).status_code == 400
