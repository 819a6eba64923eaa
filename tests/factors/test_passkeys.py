"""Passkeys through the API on both databases, answered by Chromium's virtual authenticator (no mocked verifier):
registration, a passkey as a second factor, passwordless sign-in (username-less and after an identifier),
step-up; and each rule: a challenge used once, bound to its account and pool, expired after 5 minutes; the
origin and the relying-party id; a sign counter that goes backwards (a cloned key); user presence always, and
user verification for a passkey alone; a user handle naming another account; a credential id held by one
account of a pool (registered twice at once too, and the database's own rule); another environment's passkey; the
console's relying party refused on an IP address. What Chromium will not send (no user presence, a chosen user
handle or counter) comes from `tests.factors.softkey`."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn.helpers import bytes_to_base64url

from sump.access.pools import Pool, tenant_pool
from sump.accounts import identity
from sump.auth.schemas import MFA_GRANT
from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.factors import Factor
from sump.db.tables.sessions import AccountType, Session
from sump.factors import passkeys, webauthn
from sump.factors import repository as passkey_repository
from sump.factors import service as factor_service
from sump.kit.errors import Problem
from tests.factors.authenticator import (
    ORIGIN,
    OTHER_SITE,
    SIBLING_SITE,
    Authenticator,
    b64url,
    virtual_authenticator,
)
from tests.factors.softkey import AT, UV, SoftKey
from tests.kit.http_support import assert_problem
from tests.support import SECRET, EndUser, TenantWorld, bearer, sign_in_while, statements

PASSKEYS = {"passkeyRpId": "localhost", "passkeyOrigins": [ORIGIN]}


@pytest.fixture
async def authenticator() -> AsyncIterator[Authenticator]:
    async with virtual_authenticator() as found:
        yield found


async def passkey_environment(world: TenantWorld) -> str:
    return await world.add_environment(settings=PASSKEYS)


async def register(
    client: httpx.AsyncClient, key: Authenticator, user: EndUser, origin: str = ORIGIN, **overrides: Any
) -> httpx.Response:
    options = await client.post(f"{user.auth_base}/me/factors/passkey/options", headers=user.auth)
    assert options.status_code == 200, options.text
    public_key = options.json()["publicKey"]
    if "rp" in overrides:
        public_key = {**public_key, "rp": overrides.pop("rp")}
    credential = await key.create(public_key, origin, **overrides)
    return await client.post(
        f"{user.auth_base}/me/factors/passkey", json={"credential": credential, "label": "laptop"}, headers=user.auth
    )


async def passkey_user(
    client: httpx.AsyncClient, world: TenantWorld, key: Authenticator, environment_id: str
) -> EndUser:
    user = await world.add_end_user(environment_id)
    registered = await register(client, key, user)
    assert registered.status_code == 201, registered.text
    return user


async def passwordless(
    client: httpx.AsyncClient, key: Authenticator, base: str, body: dict[str, str] | None = None, **overrides: Any
) -> tuple[dict[str, Any], httpx.Response]:
    options = await client.post(f"{base}/login/passkey/options", json=body or {})
    assert options.status_code == 200, options.text
    origin = overrides.pop("origin", ORIGIN)
    credential = await key.get(options.json()["publicKey"], origin, **overrides)
    return credential, await client.post(f"{base}/login/passkey", json={"credential": credential})


def assert_refused(response: httpx.Response, status: int, code: str, reason: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    if reason is not None:
        assert reason in body["detail"]


async def test_a_passkey_registers_and_signs_in_as_a_second_factor_alone_and_for_step_up(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    environment_id = await passkey_environment(world)
    user = await world.add_end_user(environment_id)
    options = await client.post(f"{user.auth_base}/me/factors/passkey/options", headers=user.auth)
    public_key = options.json()["publicKey"]
    assert public_key["rp"] == {"id": "localhost", "name": "localhost"}
    assert public_key["authenticatorSelection"]["residentKey"] == "preferred"
    assert public_key["attestation"] == "none"
    assert options.json()["expiresIn"] == 300
    credential = await authenticator.create(public_key)
    registered = await client.post(
        f"{user.auth_base}/me/factors/passkey", json={"credential": credential, "label": "laptop"}, headers=user.auth
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["factor"]["kind"] == "webauthn"
    assert registered.json()["factor"]["label"] == "laptop"
    assert len(registered.json()["recoveryCodes"]) == 10
    listed = (await client.get(f"{user.auth_base}/me/factors", headers=user.auth)).json()
    assert [factor["kind"] for factor in listed["factors"]] == ["webauthn"]
    assert "publicKey" not in str(listed)

    first = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert first.status_code == 202
    assert first.json()["factors"] == ["webauthn", "recovery_code"]
    challenge = first.json()["challenge"]
    factor_options = await client.post(f"{user.auth_base}/login/factor/options", json={"challenge": challenge})
    assert factor_options.status_code == 200, factor_options.text
    request = factor_options.json()["publicKey"]
    assert request["userVerification"] == "preferred"
    assert [allowed["id"] for allowed in request["allowCredentials"]] == [credential["id"]]
    assertion = await authenticator.get(request)
    second = await client.post(
        f"{user.auth_base}/login/factor", json={"challenge": challenge, "factor": "webauthn", "credential": assertion}
    )
    assert second.status_code == 200, second.text
    assert second.json()["session"]["amr"] == ["pwd", "hwk", "mfa"]
    assert second.headers["set-cookie"].startswith("sump_session=")

    _, alone = await passwordless(client, authenticator, user.auth_base)
    assert alone.status_code == 200, alone.text
    assert alone.json()["accountId"] == user.account_id
    assert alone.json()["session"]["amr"] == ["hwk"]
    token = alone.json()["token"]
    me = await client.get(f"{user.auth_base}/me", headers=bearer(token))
    assert me.json()["amr"] == ["hwk"]

    refused = await client.post(f"{user.auth_base}/me/recovery-codes", headers=bearer(token))
    assert_refused(refused, 403, "step_up_required")  # a passkey alone is no step-up: it elevates nothing
    step_options = await client.post(f"{user.auth_base}/step-up/passkey/options", headers=bearer(token))
    assert step_options.status_code == 200, step_options.text
    stepped = await client.post(
        f"{user.auth_base}/step-up",
        json={"factor": "webauthn", "credential": await authenticator.get(step_options.json()["publicKey"])},
        headers=bearer(token),
    )
    assert stepped.status_code == 200, stepped.text
    assert (await client.post(f"{user.auth_base}/me/recovery-codes", headers=bearer(token))).status_code == 200


async def test_passkey_options_send_the_same_statements_whoever_the_identifier_names(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld, authenticator: Authenticator
) -> None:
    """A lookup skipped for unknown identifiers would tell them apart by the time the answer takes."""
    environment_id = await passkey_environment(world)
    holder = await passkey_user(client, world, authenticator, environment_id)
    without = await world.add_end_user(environment_id)
    sent = []
    for username in (holder.username, without.username, "nobody_here"):
        with statements(app) as seen:
            options = await client.post(f"{holder.auth_base}/login/passkey/options", json={"username": username})
        assert options.status_code == 200, options.text
        sent.append(seen)
    assert sent[0] == sent[1] == sent[2], sent


async def test_a_passkey_after_the_identifier_lists_that_accounts_passkeys(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    environment_id = await passkey_environment(world)
    user = await passkey_user(client, world, authenticator, environment_id)
    named = await client.post(f"{user.auth_base}/login/passkey/options", json={"username": user.username})
    assert len(named.json()["publicKey"]["allowCredentials"]) == 1
    assert named.json()["publicKey"]["userVerification"] == "required"
    unknown = await client.post(f"{user.auth_base}/login/passkey/options", json={"username": "nobody_here"})
    # Named as the lookup names it: a decoy that changed with the case of an unknown name, where a known
    # account's list does not, would tell the two apart.
    again = await client.post(f"{user.auth_base}/login/passkey/options", json={"username": "Nobody_Here"})
    assert unknown.status_code == 200
    decoy = unknown.json()["publicKey"]["allowCredentials"]
    assert 1 <= len(decoy) <= 3, "an unknown account seems to have passkeys, like a known one"
    assert decoy == again.json()["publicKey"]["allowCredentials"], "the same decoy each time"
    assert decoy[0]["id"] != named.json()["publicKey"]["allowCredentials"][0]["id"]
    _, done = await passwordless(client, authenticator, user.auth_base, {"username": user.username})
    assert done.status_code == 200, done.text


async def test_a_challenge_is_used_once(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    environment_id = await passkey_environment(world)
    user = await passkey_user(client, world, authenticator, environment_id)
    credential, done = await passwordless(client, authenticator, user.auth_base)
    assert done.status_code == 200
    replayed = await client.post(f"{user.auth_base}/login/passkey", json={"credential": credential})
    assert_refused(replayed, 401, "invalid_challenge")

    other = await world.add_end_user(environment_id)
    options = await client.post(f"{other.auth_base}/me/factors/passkey/options", headers=other.auth)
    created = await authenticator.create(options.json()["publicKey"])
    first = await client.post(f"{other.auth_base}/me/factors/passkey", json={"credential": created}, headers=other.auth)
    assert first.status_code == 201, first.text
    again = await client.post(f"{other.auth_base}/me/factors/passkey", json={"credential": created}, headers=other.auth)
    assert_refused(again, 401, "invalid_challenge")


async def test_a_challenge_is_bound_to_its_account_and_its_ceremony(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    environment_id = await passkey_environment(world)
    user = await world.add_end_user(environment_id)
    someone = await world.add_end_user(environment_id)
    options = await client.post(f"{user.auth_base}/me/factors/passkey/options", headers=user.auth)
    created = await authenticator.create(options.json()["publicKey"])
    theirs = await client.post(
        f"{user.auth_base}/me/factors/passkey", json={"credential": created}, headers=someone.auth
    )
    assert_refused(theirs, 401, "invalid_challenge")
    mine = await client.post(f"{user.auth_base}/me/factors/passkey", json={"credential": created}, headers=user.auth)
    assert mine.status_code == 201, mine.text

    step = await client.post(f"{user.auth_base}/step-up/passkey/options", headers=user.auth)
    asserted = await authenticator.get(step.json()["publicKey"])
    as_login = await client.post(f"{user.auth_base}/login/passkey", json={"credential": asserted})
    assert_refused(as_login, 401, "invalid_challenge")  # a step-up's challenge signs no one in


async def test_a_challenge_expires(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment_id = await passkey_environment(world)
    user = await passkey_user(client, world, authenticator, environment_id)
    monkeypatch.setattr(factor_service, "CHALLENGE_TTL", timedelta(seconds=-1))
    _, late = await passwordless(client, authenticator, user.auth_base)
    assert_refused(late, 401, "invalid_challenge")


async def test_the_origin_must_be_one_of_the_relying_partys(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    site = {"passkeyRpId": "example.test", "passkeyOrigins": [OTHER_SITE]}
    user = await world.add_end_user(await world.add_environment(settings=site))
    # A page of the same site: the browser lets it use the rp id example.test, but it is not a listed origin.
    refused = await register(client, authenticator, user, SIBLING_SITE)
    assert_refused(refused, 401, "invalid_passkey", f"the origin {SIBLING_SITE} is not one of this relying party's")
    assert (await register(client, authenticator, user, OTHER_SITE)).status_code == 201
    _, signed = await passwordless(client, authenticator, user.auth_base, origin=SIBLING_SITE)
    assert_refused(signed, 401, "invalid_passkey", "is not one of this relying party's")
    _, right = await passwordless(client, authenticator, user.auth_base, origin=OTHER_SITE)
    assert right.status_code == 200, right.text


async def test_the_relying_party_id_must_be_the_environments(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    site = {"passkeyRpId": "app.example.test", "passkeyOrigins": [OTHER_SITE]}
    user = await world.add_end_user(await world.add_environment(settings=site))
    assert (await register(client, authenticator, user, OTHER_SITE)).status_code == 201
    [credential] = await authenticator.credentials()
    await authenticator.replace({**credential, "rpId": "example.test"})  # the same key, as example.test's
    _, signed = await passwordless(client, authenticator, user.auth_base, origin=OTHER_SITE, rpId="example.test")
    assert_refused(signed, 401, "invalid_passkey", "made for another relying party id")

    # The page's own domain allows the parent domain as an rp id: a passkey of example.test, not of the environment.
    other = await world.add_end_user(user.environment_id)
    refused = await register(client, authenticator, other, OTHER_SITE, rp={"id": "example.test", "name": "parent"})
    assert_refused(refused, 401, "invalid_passkey", "made for another relying party id")


async def test_a_sign_counter_that_goes_back_is_a_cloned_key(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    environment_id = await passkey_environment(world)
    user = await passkey_user(client, world, authenticator, environment_id)
    _, first = await passwordless(client, authenticator, user.auth_base)
    assert first.status_code == 200
    [credential] = await authenticator.credentials()
    assert credential["signCount"] >= 1
    await authenticator.replace({**credential, "signCount": 0})  # a copy made before that sign-in
    _, cloned = await passwordless(client, authenticator, user.auth_base)
    assert_refused(cloned, 401, "invalid_passkey", "sign counter went backwards")


async def test_user_verification_is_required_alone_and_preferred_as_a_second_factor(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    environment_id = await passkey_environment(world)
    user = await passkey_user(client, world, authenticator, environment_id)
    await authenticator.set_user_verified(False)
    _, alone = await passwordless(client, authenticator, user.auth_base, userVerification="discouraged")
    assert_refused(alone, 401, "invalid_passkey", "user verification")

    challenge = (await client.post(f"{user.auth_base}/login", json=user.credentials)).json()["challenge"]
    options = await client.post(f"{user.auth_base}/login/factor/options", json={"challenge": challenge})
    assertion = await authenticator.get(options.json()["publicKey"], userVerification="discouraged")
    second = await client.post(
        f"{user.auth_base}/login/factor", json={"challenge": challenge, "factor": "webauthn", "credential": assertion}
    )
    assert second.status_code == 200, second.text


async def test_another_environments_passkey_is_refused(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    here = await passkey_environment(world)
    there = await passkey_environment(world)  # the same relying party and origins
    holder = await passkey_user(client, world, authenticator, here)
    stranger = await world.add_end_user(there)
    _, signed = await passwordless(client, authenticator, stranger.auth_base)
    assert_refused(signed, 401, "invalid_passkey", "not a passkey of an account here")
    [real] = await listed(client, holder, holder.username)
    decoys = await listed(client, stranger, stranger.username)
    assert 1 <= len(decoys) <= 3, "an account without a passkey seems to have some"
    assert real["id"] not in [entry["id"] for entry in decoys], "and none of another environment's"


async def soft_passkey_user(
    client: httpx.AsyncClient, world: TenantWorld, environment_id: str
) -> tuple[EndUser, SoftKey]:
    """An end user whose passkey is a `SoftKey`."""
    user, key = await world.add_end_user(environment_id), SoftKey()
    options = await client.post(f"{user.auth_base}/me/factors/passkey/options", headers=user.auth)
    credential = key.create(options.json()["publicKey"])
    registered = await client.post(
        f"{user.auth_base}/me/factors/passkey", json={"credential": credential}, headers=user.auth
    )
    assert registered.status_code == 201, registered.text
    return user, key


async def a_passkey_sign_in_ended_by(
    http: httpx.AsyncClient,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    user: EndUser,
    key: SoftKey,
    meanwhile: Callable[[], Coroutine[Any, Any, httpx.Response]],
) -> httpx.Response:
    """A username-less sign-in with `key`, `meanwhile` sent once it holds its rows (`tests.support.sign_in_while`):
    both went through, and the sign-in's session was ended by the other. Its answer."""
    options = await http.post(f"{user.auth_base}/login/passkey/options", json={})
    answer = {"credential": key.get(options.json()["publicKey"])}

    by_passkey, other = await sign_in_while(
        http, db, monkeypatch, (f"{user.auth_base}/login/passkey", answer), meanwhile
    )

    assert other.status_code == 200, other.text
    assert by_passkey.status_code == 200, by_passkey.text
    ended = await http.get(f"{user.auth_base}/session", headers=bearer(by_passkey.json()["token"]))
    assert (ended.status_code, ended.json()["code"]) == (401, "unauthenticated")
    return other


async def test_a_passkey_answer_without_user_presence_is_refused(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """Without the user-present flag an authenticator signed with no one there (malware driving a security key):
    neither a registration nor an assertion, even one with user verification claimed, may count."""
    environment_id = await passkey_environment(world)
    absent = await world.add_end_user(environment_id)
    options = await client.post(f"{absent.auth_base}/me/factors/passkey/options", headers=absent.auth)
    credential = SoftKey().create(options.json()["publicKey"], flags=AT)
    registered = await client.post(
        f"{absent.auth_base}/me/factors/passkey", json={"credential": credential}, headers=absent.auth
    )
    assert_refused(registered, 401, "invalid_passkey")

    user, key = await soft_passkey_user(client, world, environment_id)
    for flags in (0, UV):
        challenge = (await client.post(f"{user.auth_base}/login", json=user.credentials)).json()["challenge"]
        options = await client.post(f"{user.auth_base}/login/factor/options", json={"challenge": challenge})
        answer = {
            "challenge": challenge,
            "factor": "webauthn",
            "credential": key.get(options.json()["publicKey"], flags=flags),
        }
        assert_refused(await client.post(f"{user.auth_base}/login/factor", json=answer), 401, "invalid_passkey")


async def test_a_user_handle_naming_another_account_signs_in_no_one(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """A username-less sign-in finds its account by the user handle the authenticator returns: one's own passkey
    returning another account's handle must sign in neither."""
    environment_id = await passkey_environment(world)
    victim, _ = await soft_passkey_user(client, world, environment_id)
    attacker, key = await soft_passkey_user(client, world, environment_id)
    options = await client.post(f"{attacker.auth_base}/login/passkey/options", json={})
    credential = key.get(options.json()["publicKey"], user_handle=uuid.UUID(victim.account_id).bytes)
    refused = await client.post(f"{attacker.auth_base}/login/passkey", json={"credential": credential})
    assert_refused(refused, 401, "invalid_passkey")


def held_together(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    """Replaces `module.name` so that two concurrent calls each wait, once done, until the other is done too (the
    worst interleaving of two requests past that point). The calls' answers, in the order they came."""
    answered: list[Any] = []
    both, original = asyncio.Event(), getattr(module, name)

    async def together(*args: Any) -> Any:
        found = await original(*args)
        answered.append(found)
        if len(answered) == 2:
            both.set()
        async with asyncio.timeout(10):
            await both.wait()
        return found

    monkeypatch.setattr(module, name, together)
    return answered


async def test_concurrent_assertions_with_one_sign_count_have_one_winner(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cloned key used twice at once, with one counter: only one of the two passes the counter check. On
    PostgreSQL both sign-ins are held until each has taken its challenge, so they look their passkey up at once
    (the lookup locks it); SQLite writes one transaction at a time, so there they follow each other."""
    user, key = await soft_passkey_user(client, world, await passkey_environment(world))
    if db.get_bind().dialect.name == "postgresql":
        held_together(monkeypatch, factor_service, "take_passkey_challenge")
    options = [await client.post(f"{user.auth_base}/login/passkey/options", json={}) for _ in range(2)]
    answers = [key.get(option.json()["publicKey"], count=5) for option in options]
    results = await asyncio.gather(
        *(client.post(f"{user.auth_base}/login/passkey", json={"credential": answer}) for answer in answers)
    )
    assert sorted(result.status_code for result in results) == [200, 401], [result.text for result in results]


async def test_a_username_less_passkey_sign_in_during_its_accounts_disabling_gets_nothing(
    client: httpx.AsyncClient,
    world: TenantWorld,
    app: FastAPI,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A username-less challenge is no account's, so nothing that ends an account's sessions waits for it. The
    account is disabled while its passkey's answer is checked: the sign-in gets no session and leaves none
    behind. On PostgreSQL the change commits once the sign-in has checked the passkey; SQLite lets one writer
    through, which the sign-in is from its challenge on, so there the change comes just before it."""
    environment_id = await passkey_environment(world)
    user, key = await soft_passkey_user(client, world, environment_id)
    admin = f"/api/v1/environments/{environment_id}/accounts/{user.account_id}"
    postgres = app.state.engine.dialect.name == "postgresql"
    name = "check_passkey" if postgres else "take_passkey_challenge"
    original = getattr(factor_service, name)

    async def changed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(factor_service, name, original)
        if postgres:
            found = await original(*args, **kwargs)
        changed = await client.patch(f"{admin}/disable", headers=world.owner.auth)
        assert changed.status_code == 204, changed.text
        return found if postgres else await original(*args, **kwargs)

    monkeypatch.setattr(factor_service, name, changed_meanwhile)
    options = await client.post(f"{user.auth_base}/login/passkey/options", json={})
    raced = await client.post(
        f"{user.auth_base}/login/passkey", json={"credential": key.get(options.json()["publicKey"])}
    )

    assert_refused(raced, 401, "invalid_passkey", "it is not a passkey of an account here")
    assert "token" not in raced.json()
    live = select(func.count()).select_from(Session).where(Session.account_id == uuid.UUID(user.account_id))
    assert await db.scalar(live) == 0


async def test_passkeys_need_a_relying_party(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(await world.add_environment())
    options = await client.post(f"{user.auth_base}/me/factors/passkey/options", headers=user.auth)
    assert_refused(options, 409, "passkeys_unavailable", "set passkeyRpId and passkeyOrigins")
    invalid = await client.patch(
        f"{world.base}/environments/{user.environment_id}",
        json={"settings": {"passkeyRpId": "127.0.0.1", "passkeyOrigins": [ORIGIN]}},
        headers=world.owner.auth,
    )
    assert invalid.status_code == 400
    outside = await client.patch(
        f"{world.base}/environments/{user.environment_id}",
        json={"settings": {"passkeyRpId": "example.com", "passkeyOrigins": ["https://example.org"]}},
        headers=world.owner.auth,
    )
    assert outside.status_code == 400
    assert outside.json()["errors"]["settings"].endswith("(not so: entries 1 of the list).")
    assert "https://example.org" not in outside.text, "named by its place, never echoed"


def console_settings(public_url: str) -> Settings:
    return Settings(env="test", secret_key=SECRET, public_url=public_url)


def test_the_consoles_relying_party_comes_from_the_public_url() -> None:
    pool = tenant_pool(uuid.uuid4())
    found = webauthn.relying_party(console_settings("https://sump.example.com"), pool)
    assert (found.id, found.origins) == ("sump.example.com", ("https://sump.example.com",))
    local = webauthn.relying_party(console_settings("http://localhost:8080"), pool)
    assert (local.id, local.origins) == ("localhost", ("http://localhost:8080",))
    with pytest.raises(Problem) as refused:
        webauthn.relying_party(console_settings("http://127.0.0.1:8080"), pool)
    assert refused.value.code == "passkeys_unavailable"
    assert refused.value.status == 409
    assert "not an IP address (127.0.0.1)" in refused.value.detail


def test_a_credential_id_from_the_protocol_is_base64url() -> None:
    assert b64url("+/8=") == "-_8"


async def test_the_token_endpoints_mfa_grant_takes_a_passkey(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    environment_id = await passkey_environment(world)
    user = await passkey_user(client, world, authenticator, environment_id)
    token_url = f"/api/v1/auth/environments/{environment_id}/token"
    first = await client.post(token_url, json={"grantType": "password", **user.credentials})
    assert first.status_code == 403, first.text
    assert first.json()["code"] == "mfa_required"
    challenge = first.json()["challenge"]
    options = await client.post(f"{user.auth_base}/login/factor/options", json={"challenge": challenge})
    assertion = await authenticator.get(options.json()["publicKey"])
    grant = {"grantType": MFA_GRANT, "challenge": challenge, "factor": "webauthn"}

    both = await client.post(token_url, json={**grant, "credential": assertion, "code": "123456"})
    tokens = await client.post(token_url, json={**grant, "credential": assertion})
    replayed = await client.post(token_url, json={**grant, "credential": assertion})

    assert both.status_code == 400, both.text
    assert both.json()["code"] == "validation_failed"
    assert tokens.status_code == 200, tokens.text
    assert jwt.decode(tokens.json()["accessToken"], options={"verify_signature": False})["amr"] == ["pwd", "hwk", "mfa"]
    assert_refused(replayed, 401, "invalid_challenge")


async def test_a_decoy_is_shaped_like_the_passkeys_of_its_pool(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    """An attacker who names accounts compares the lists: a decoy of another length or other transports than
    the passkeys people of this pool hold would say that its account has none."""
    environment_id = await passkey_environment(world)
    environment = f"{world.base}/environments/{environment_id}"
    updated = (await client.get(environment, headers=world.owner.auth)).json()["updatedAt"]
    holder = await passkey_user(client, world, authenticator, environment_id)
    # Shaping the decoys is no change of the environment's: its time would tell when passkeys are registered.
    assert (await client.get(environment, headers=world.owner.auth)).json()["updatedAt"] == updated
    without = await world.add_end_user(environment_id)
    real, *decoys = [await listed(client, holder, name) for name in (holder.username, without.username, "nobody_here")]
    for decoy in decoys:
        assert [shape(entry) for entry in decoy] == [shape(real[0])] * len(decoy), (decoy, real)
    assert decoys[0] != decoys[1] != real


async def listed(client: httpx.AsyncClient, user: EndUser, username: str) -> list[dict[str, Any]]:
    """The passkeys that passwordless sign-in options list after `username`, in `user`'s environment."""
    options = await client.post(f"{user.auth_base}/login/passkey/options", json={"username": username})
    assert options.status_code == 200, options.text
    entries: list[dict[str, Any]] = options.json()["publicKey"]["allowCredentials"]
    return entries


def shape(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What a credential descriptor shows but its bytes: its members, type, id length and transports."""
    return sorted(entry), entry["type"], len(base64.urlsafe_b64decode(entry["id"] + "==")), entry.get("transports")


async def test_a_decoy_keeps_its_shape_and_bytes_whatever_passkeys_come_later(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    """The pool's first passkey shapes its decoys once. Were the shape to follow the pool's passkeys, whoever
    registers passkeys of another kind could move it, ask again, and know each answer that changed for a decoy:
    real lists do not change."""
    environment_id = await passkey_environment(world)
    holder = await passkey_user(client, world, authenticator, environment_id)
    before = await listed(client, holder, "nobody_here")
    async with virtual_authenticator(transport="usb") as security_key:
        for _ in range(3):
            newcomer = await passkey_user(client, world, security_key, environment_id)
    assert (await listed(client, holder, newcomer.username))[0]["transports"] == ["usb"]
    assert await listed(client, holder, "nobody_here") == before
    [own] = await listed(client, holder, holder.username)
    assert [shape(entry) for entry in before] == [shape(own)] * len(before)


def test_a_long_decoy_shares_no_block_with_another_and_its_length_stays_within_webauthns_bounds() -> None:
    """Decoys longer than one HMAC are made of several; a block that two identifiers' decoys shared would tie
    them together as decoys."""
    seed = bytes(range(32))
    names = ["abc", "abc#", "abc1", "abc\x01", "abc\x00\x01"]
    long = [decoy_bytes(seed, 100, name) for name in names]
    blocks = [decoy[n : n + 32] for decoy in long for n in range(0, 96, 32)]
    assert [len(decoy) for decoy in long] == [100] * len(names)
    assert len(set(blocks)) == len(blocks)
    assert [len(decoy_bytes(seed, length, "abc")) for length in (0, 5, 16, 1023, 1024, 10**6)] == [
        16,
        16,
        16,
        1023,
        1023,
        1023,
    ]


def test_a_decoy_list_holds_one_to_three_passkeys_as_people_do() -> None:
    """A list of two or three passkeys must not say "a real account": an identifier without passkeys is listed one
    to three decoys (drawn once: the same list each time), each tagged as a decoy, none repeated anywhere."""
    seed = secrets.token_bytes(32)
    lists = [passkeys._decoys(seed, passkeys.DEFAULT_SHAPE, ("username", f"name{n}")) for n in range(400)]
    counts = [len(decoys) for decoys in lists]
    assert set(counts) == {1, 2, 3}
    assert 0.6 < counts.count(1) / len(counts) < 0.9, "most people hold one passkey"
    assert lists == [passkeys._decoys(seed, passkeys.DEFAULT_SHAPE, ("username", f"name{n}")) for n in range(400)]
    ids = [decoy.credential_id for decoys in lists for decoy in decoys]
    assert len(set(ids)) == len(ids)
    assert all(passkeys._is_decoy(seed, credential_id) for credential_id in ids)
    assert lists[0][0] == passkeys._decoy(seed, passkeys.DEFAULT_SHAPE, ("username", "name0")), (
        "the first decoy of a list is the one listed before lists grew"
    )


def decoy_bytes(seed: bytes, length: int, name: str) -> bytes:
    shape = {"idBytes": length, "transports": ["usb"]}
    return base64.urlsafe_b64decode(passkeys._decoy(seed, shape, ("username", name)).credential_id + "==")


def forged(
    public_key: dict[str, Any], credential_id: bytes, transports: list[str], claimed_id: bytes | None = None
) -> dict[str, Any]:
    """A registration no browser would make, as anyone can send one (attestation `none`): a P-256 key of its
    own, `credential_id` in its authenticator data (and as its id, unless `claimed_id`), `transports` as given."""
    answer = SoftKey(rp_id=public_key["rp"]["id"], credential_id=credential_id).create(public_key)
    answer["response"]["transports"] = transports
    if claimed_id is not None:
        answer["id"] = answer["rawId"] = bytes_to_base64url(claimed_id)
    return answer


async def register_forged(
    client: httpx.AsyncClient, user: EndUser, credential_id: bytes, transports: list[str], **claimed: bytes
) -> httpx.Response:
    options = await client.post(f"{user.auth_base}/me/factors/passkey/options", headers=user.auth)
    assert options.status_code == 200, options.text
    credential = forged(options.json()["publicKey"], credential_id, transports, **claimed)
    return await client.post(
        f"{user.auth_base}/me/factors/passkey", json={"credential": credential, "label": "forged"}, headers=user.auth
    )


async def test_a_credential_id_is_the_one_attested_and_no_longer_than_webauthn_allows(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The id kept is the one the authenticator data attests, which the client's id must be: otherwise a short
    id would pass the request's bound and an attested one of kilobytes would be kept, and shape the pool's
    decoys with a length no real passkey has."""
    environment_id = await passkey_environment(world)
    user = await world.add_end_user(environment_id)
    long = secrets.token_bytes(1024)
    mismatched = await register_forged(client, user, long, ["usb"], claimed_id=secrets.token_bytes(32))
    assert_refused(mismatched, 401, "invalid_passkey", "its id is not the one its authenticator data attests")
    too_long = await register_forged(client, user, long, ["usb"])
    assert_problem(too_long, 400, "validation_failed")
    assert set(too_long.json()["errors"]) == {"credential.id", "credential.rawId"}
    assert (await register_forged(client, user, long[:1023], ["usb"])).status_code == 201


async def test_a_credential_id_is_registered_to_one_account_of_a_pool(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """WebAuthn §7.1 step 22. A credential id is no secret (the sign-in options naming its owner list it):
    another account of the pool must not register a copy of it, nor the owner register it twice."""
    environment_id = await passkey_environment(world)
    owner, copier = await world.add_end_user(environment_id), await world.add_end_user(environment_id)
    credential_id = secrets.token_bytes(32)
    assert (await register_forged(client, owner, credential_id, ["usb"])).status_code == 201
    listed_ids = [entry["id"] for entry in await listed(client, copier, owner.username)]
    assert listed_ids == [bytes_to_base64url(credential_id)]
    assert_problem(await register_forged(client, copier, credential_id, ["usb"]), 409, "passkey_exists")
    assert_problem(await register_forged(client, owner, credential_id, ["usb"]), 409, "passkey_exists")
    # Another environment is another pool.
    elsewhere = await world.add_end_user(await passkey_environment(world))
    assert (await register_forged(client, elsewhere, credential_id, ["usb"])).status_code == 201


async def test_registering_a_listed_id_answers_alike_for_a_real_passkey_and_a_decoy(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """An attacker takes the id a sign-in's options list after a name and registers it to their own account from
    an authenticator of theirs: a decoy's id must be refused as a real passkey's is, or the answer would tell
    which names have passkeys."""
    environment_id = await passkey_environment(world)
    holder, attacker = await world.add_end_user(environment_id), await world.add_end_user(environment_id)
    assert (await register_forged(client, holder, secrets.token_bytes(32), ["usb"])).status_code == 201
    without = await world.add_end_user(environment_id)

    for name in (holder.username, without.username, "nobody_here"):
        for entry in await listed(client, attacker, name):
            copy = await register_forged(client, attacker, base64.urlsafe_b64decode(entry["id"] + "=="), ["usb"])
            assert_problem(copy, 409, "passkey_exists")
    # An authenticator's own random id is no decoy.
    assert (await register_forged(client, attacker, secrets.token_bytes(32), ["usb"])).status_code == 201


@pytest.mark.parametrize("same_account", [False, True], ids=["two_accounts", "one_account_twice"])
async def test_one_credential_id_registered_twice_at_once_is_registered_once(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, monkeypatch: pytest.MonkeyPatch, same_account: bool
) -> None:
    """The check before the insert cannot see a registration not yet committed: on PostgreSQL both registrations
    are held until each has checked (the worst interleaving), and the database's rule decides; the one that loses
    gets the answer it would have got second. SQLite writes one transaction at a time, so there they follow each
    other and the check answers the second."""
    environment_id = await passkey_environment(world)
    first = await world.add_end_user(environment_id)
    second = first if same_account else await world.add_end_user(environment_id)
    checked: list[Any] = []
    if db.get_bind().dialect.name == "postgresql":
        checked = held_together(monkeypatch, passkey_repository, "passkey_registered")
    credential_id = secrets.token_bytes(32)
    answers = []
    for user in (first, second):  # each registration answers its own challenge
        options = await client.post(f"{user.auth_base}/me/factors/passkey/options", headers=user.auth)
        assert options.status_code == 200, options.text
        answers.append((user, forged(options.json()["publicKey"], credential_id, ["usb"])))
    results = await asyncio.gather(
        *(
            client.post(f"{user.auth_base}/me/factors/passkey", json={"credential": answer}, headers=user.auth)
            for user, answer in answers
        )
    )
    assert sorted(result.status_code for result in results) == [201, 409], [result.text for result in results]
    assert_problem(next(result for result in results if result.status_code == 409), 409, "passkey_exists")
    if db.get_bind().dialect.name == "postgresql":
        assert checked == [False, False], "each registration is held after its check, before either inserts"
    held = (
        select(func.count())
        .select_from(Factor)
        .where(
            Factor.environment_id == uuid.UUID(environment_id),
            Factor.data["credentialId"].as_string() == bytes_to_base64url(credential_id),
        )
    )
    assert await db.scalar(held) == 1


async def factor_row(db: AsyncSession, pool: Pool, account_id: str, credential_id: str | None) -> dict[str, Any]:
    """The columns of a factor of the account: a passkey of `credential_id`, or a TOTP."""
    account = await identity.get(db, pool, uuid.UUID(account_id))
    assert account is not None
    kind, data = ("webauthn", {"credentialId": credential_id}) if credential_id else ("totp", {})
    owner = factor_service.owner_columns(pool, account)
    return {"kind": kind, "data": data, "credential_id": credential_id, "confirmed_at": utcnow(), **owner}


async def add_factor(db: AsyncSession, pool: Pool, account_id: str, credential_id: str | None) -> None:
    """A factor row written straight to the database and committed."""
    db.add(Factor(**await factor_row(db, pool, account_id, credential_id)))
    await db.commit()


async def test_the_database_holds_a_credential_id_to_one_account_of_a_pool(
    world: TenantWorld, other: TenantWorld, db: AsyncSession
) -> None:
    """The rule beneath the check, for a tenant's accounts and for one environment's end users: a second row of a
    credential id in its pool is refused by the database itself. Other pools may hold it (another tenant, another
    environment, the tenant's own accounts beside its end users), and factors of other kinds have no id."""
    tenant_id, here, there = uuid.UUID(world.tenant_id), await world.add_environment(), await world.add_environment()
    tenant = tenant_pool(tenant_id)

    def environment(environment_id: str) -> Pool:
        return Pool(AccountType.ENVIRONMENT_ACCOUNT, tenant_id, uuid.UUID(environment_id))

    member = await world.add_member("admin")
    users = [await world.add_end_user(here), await world.add_end_user(here), await world.add_end_user(there)]
    credential_id = bytes_to_base64url(secrets.token_bytes(32))
    await add_factor(db, tenant, world.owner.account_id, credential_id)
    await add_factor(db, environment(here), users[0].account_id, credential_id)
    copies = [
        (tenant, member.account_id),
        (tenant, world.owner.account_id),
        (environment(here), users[1].account_id),
        (environment(here), users[0].account_id),
    ]
    for pool, account_id in copies:
        with pytest.raises(IntegrityError):
            await add_factor(db, pool, account_id, credential_id)
        await db.rollback()
        # A registration's insert finds it taken, and its transaction goes on.
        row = await factor_row(db, pool, account_id, credential_id)
        assert await passkey_repository.add_passkey(db, pool, row) is None
        assert await passkey_repository.passkey_registered(db, pool, credential_id)
        await db.rollback()
    await add_factor(db, environment(there), users[2].account_id, credential_id)
    elsewhere = tenant_pool(uuid.UUID(other.tenant_id))
    added = await passkey_repository.add_passkey(
        db, elsewhere, await factor_row(db, elsewhere, other.owner.account_id, credential_id)
    )
    assert added is not None
    assert added.credential_id == credential_id
    await db.commit()
    for _ in range(2):
        await add_factor(db, tenant, member.account_id, None)
        await add_factor(db, environment(here), users[1].account_id, None)
    held = select(func.count()).select_from(Factor).where(Factor.credential_id == credential_id)
    assert await db.scalar(held) == 4


async def test_a_first_passkey_of_a_rare_shape_leaves_the_decoys_to_the_next(
    client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    """Whoever registers a pool's first passkey could otherwise give it a shape no real passkey has (a forged
    id of 1,023 bytes) and mark every decoy of that pool for good."""
    environment_id = await passkey_environment(world)
    forger = await world.add_end_user(environment_id)
    before = await listed(client, forger, "nobody_here")
    rare: list[tuple[int, list[str]]] = [(1023, ["usb"]), (32, ["smart-card"]), (32, []), (8, ["usb"])]
    for length, transports in rare:
        registered = await register_forged(client, forger, secrets.token_bytes(length), transports)
        assert registered.status_code == 201, registered.text
        assert await listed(client, forger, "nobody_here") == before, (length, transports)
    holder = await passkey_user(client, world, authenticator, environment_id)
    [real] = await listed(client, forger, holder.username)
    decoys = await listed(client, forger, "nobody_here")
    assert [shape(entry) for entry in decoys] == [shape(real)] * len(decoys)


async def test_only_known_transports_are_kept_once_each_and_sorted(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """A rare spelling, a repeat or an order of the client's own would mark its passkey, and its pool's decoys."""
    environment_id = await passkey_environment(world)
    user = await world.add_end_user(environment_id)
    registered = await register_forged(client, user, secrets.token_bytes(32), ["usb", "ble", "usb", "warp"])
    assert registered.status_code == 201, registered.text
    assert (await listed(client, user, user.username))[0]["transports"] == ["ble", "usb"]
    assert (await listed(client, user, "nobody_here"))[0]["transports"] == ["ble", "usb"]
