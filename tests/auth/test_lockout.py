"""Password guessing: failures count per account and per source, an attacker's failures never lock the owner
out (known device, other address), a ceiling holds across addresses, refusals are answered at once (429 with
`Retry-After`, never a sleep in a hashing slot), and identifiers without an account are treated alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis import Redis

from sump.app import create_app
from sump.factors import totp
from sump.kit.crypto import sign_cookie
from tests.factors.conftest import Clock, enrol_totp
from tests.kit.test_limits import REDIS_URL
from tests.mail import SmtpServer, reset_token
from tests.support import PASSWORD, SECRET, Database, EndUser, TenantWorld, make_settings, new_tenant

Factory = Callable[..., FastAPI]


@pytest.fixture
async def make_app(database: Database) -> AsyncIterator[Factory]:
    apps: list[FastAPI] = []

    def build(**overrides: Any) -> FastAPI:
        settings = {"lockout_free_attempts": 4, "lockout_threshold": 4, "lockout_max_delay": 0, **overrides}
        app = create_app(make_settings(database, **settings))
        apps.append(app)
        return app

    yield build
    for app in apps:
        await app.state.engine.dispose()
        app.state.hasher.close()


class Clients:
    """One HTTP client per source address, each with its own cookie jar (its own browser)."""

    def __init__(self, app: FastAPI, stack: AsyncExitStack) -> None:
        self.app, self.stack = app, stack
        self.by_ip: dict[str, httpx.AsyncClient] = {}

    async def __call__(self, ip: str) -> httpx.AsyncClient:
        if ip not in self.by_ip:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False, client=(ip, 1))
            client = httpx.AsyncClient(transport=transport, base_url="http://sump.test")
            self.by_ip[ip] = await self.stack.enter_async_context(client)
        return self.by_ip[ip]


async def _setup(app: FastAPI, stack: AsyncExitStack) -> tuple[Clients, TenantWorld, EndUser]:
    clients = Clients(app, stack)
    world = await new_tenant(await clients("198.51.100.1"))
    return clients, world, await world.add_end_user()


def _login(user: EndUser) -> str:
    return f"{user.auth_base}/login"


def _wrong(user: EndUser, kind: str = "email", n: int = 0) -> dict[str, str]:
    value = user.email if kind == "email" else user.username
    return {kind: value, "password": f"wrong password {n}"}


def _right(user: EndUser) -> dict[str, str]:
    return {"email": user.email, "password": PASSWORD}


def _shape(response: httpx.Response) -> tuple[int, dict[str, Any], bool]:
    body = {key: value for key, value in response.json().items() if key != "requestId"}
    return response.status_code, body, "retry-after" in response.headers


@pytest.mark.asvs("AUTH-03")
async def test_a_locked_source_is_refused_even_with_the_right_password(make_app: Factory) -> None:
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(), stack)
        attacker = await clients("203.0.113.9")
        failures = [await attacker.post(_login(user), json=_wrong(user, n=i)) for i in range(4)]
        refused = await attacker.post(_login(user), json=_right(user))

    assert [response.status_code for response in failures] == [401] * 4
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert int(refused.headers["retry-after"]) > 0


@pytest.mark.asvs("AUTH-03")
async def test_failures_count_per_account_whatever_the_identifier(make_app: Factory) -> None:
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(), stack)
        attacker = await clients("203.0.113.9")
        for i, kind in enumerate(("email", "username", "email", "username")):
            assert (await attacker.post(_login(user), json=_wrong(user, kind, i))).status_code == 401
        by_username = await attacker.post(_login(user), json={"username": user.username, "password": PASSWORD})

    assert by_username.status_code == 429, "four failures under two identifiers are four failures of one account"


@pytest.mark.asvs("AUTH-03", "AUTH-05")
async def test_the_right_password_does_not_forget_the_wrong_codes_of_its_source(
    make_app: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone who knows the password guesses second-factor codes in batches, entering the password again
    between them: the password is only half a sign-in and must not clear the wrong codes counted against the
    address, so no more codes are checked than the lockout allows."""
    clock = Clock()
    monkeypatch.setattr(totp, "now", clock)
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(), stack)
        seed, _, _ = await enrol_totp(await clients("198.51.100.1"), user.auth_base, user.token, clock)
        attacker = await clients("203.0.113.9")
        wrong = clock.code(seed, 5)
        for _ in range(2):
            first = await attacker.post(_login(user), json=_right(user))
            assert first.status_code == 202, first.text
            answer = {"challenge": first.json()["challenge"], "code": wrong}
            for _ in range(2):
                guess = await attacker.post(f"{user.auth_base}/login/factor", json=answer)
                assert (guess.status_code, guess.json()["code"]) == (401, "invalid_code")
        held = await attacker.post(f"{user.auth_base}/login/factor", json=answer)
        again = await attacker.post(_login(user), json=_right(user))
        assert again.status_code == 202, "codes are counted apart from the password"
        still = await attacker.post(
            f"{user.auth_base}/login/factor", json={**answer, "challenge": again.json()["challenge"]}
        )

    assert (held.status_code, held.json()["code"]) == (429, "too_many_attempts")
    assert (still.status_code, still.json()["code"]) == (429, "too_many_attempts")


@pytest.mark.asvs("AUTH-03")
async def test_a_right_password_forgets_the_typos_of_an_account_with_a_second_factor(
    make_app: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner of an account with a second factor mistypes the password, then signs in: each sign-in starts
    the address's count of wrong passwords again, so typos spread over the day never hold the owner back."""
    clock = Clock()
    monkeypatch.setattr(totp, "now", clock)
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(), stack)
        owner = await clients("198.51.100.1")
        seed, _, _ = await enrol_totp(owner, user.auth_base, user.token, clock)
        for round_ in range(3):
            for n in range(3):
                typo = await owner.post(_login(user), json=_wrong(user, n=n))
                assert (typo.status_code, typo.json()["code"]) == (401, "invalid_credentials")
            first = await owner.post(_login(user), json=_right(user))
            assert first.status_code == 202, (round_, first.text)
            clock.tick()
            answer = {"challenge": first.json()["challenge"], "code": clock.code(seed)}
            assert (await owner.post(f"{user.auth_base}/login/factor", json=answer)).status_code == 200


@pytest.mark.asvs("AUTH-03", "AUTH-04")
async def test_the_owner_is_not_held_by_an_attackers_failures(make_app: Factory) -> None:
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(), stack)
        owner_browser = await clients("198.51.100.7")
        assert (await owner_browser.post(_login(user), json=_right(user))).status_code == 200
        assert "sump_device" in owner_browser.cookies

        attacker = await clients("203.0.113.9")
        for i in range(4):
            await attacker.post(_login(user), json=_wrong(user, n=i))
        assert (await attacker.post(_login(user), json=_right(user))).status_code == 429

        from_elsewhere = await (await clients("192.0.2.44")).post(_login(user), json=_right(user))
        assert from_elsewhere.status_code == 200, "another address is not held by the attacker's failures"

        # The owner's known browser, even behind the attacker's address (a shared NAT), still gets in.
        shared_nat = await clients("203.0.113.9")
        shared_nat.cookies.set("sump_device", owner_browser.cookies["sump_device"])
        assert (await shared_nat.post(_login(user), json=_right(user))).status_code == 200


@pytest.mark.asvs("AUTH-03")
async def test_a_forged_device_cookie_is_worth_nothing(make_app: Factory) -> None:
    async with AsyncExitStack() as stack:
        clients, world, user = await _setup(make_app(), stack)
        other = await world.add_end_user()
        browser = await clients("198.51.100.7")
        assert (await browser.post(_login(other), json=_right(other))).status_code == 200
        known_other = browser.cookies["sump_device"]

        attacker = await clients("203.0.113.9")
        for i in range(4):
            await attacker.post(_login(user), json=_wrong(user, n=i))
        # Sump's own signature of the account's id, made for another cookie (the signed-cookie format of the
        # session and flash cookies): a device cookie's signature names its purpose, so none other stands for it.
        elsewhere = sign_cookie(SECRET, uuid.UUID(user.account_id).hex)
        for cookie in (known_other, f"s:{user.account_id.replace('-', '')}.forged", user.account_id, elsewhere):
            attacker.cookies.set("sump_device", cookie)
            refused = await attacker.post(_login(user), json=_right(user))
            assert refused.status_code == 429, cookie


@pytest.mark.asvs("AUTH-03")
async def test_a_ceiling_holds_against_guesses_spread_over_many_addresses(make_app: Factory) -> None:
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(lockout_account_ceiling=6), stack)
        owner_browser = await clients("198.51.100.7")
        assert (await owner_browser.post(_login(user), json=_right(user))).status_code == 200
        for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            for i in range(2):  # under each address's own threshold
                assert (await (await clients(ip)).post(_login(user), json=_wrong(user, n=i))).status_code == 401

        fresh = await (await clients("203.0.113.4")).post(_login(user), json=_right(user))
        known = await owner_browser.post(_login(user), json=_right(user))

    assert fresh.status_code == 429
    assert fresh.json()["code"] == "too_many_attempts"
    assert known.status_code == 200, "past the ceiling, a device that signed in before still gets in"


@pytest.mark.asvs("AUTH-03")
async def test_the_addresses_of_one_ipv6_network_are_one_source(make_app: Factory) -> None:
    """One host holds a whole /64: a new address of it for each guess is the same source, paced and then locked
    like one address; another network is not held back."""
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(), stack)
        answers = []
        for i in range(8):  # past the free attempts, each guess from another address of the network
            guess = await (await clients(f"2001:db8:7:1::{i + 1:x}")).post(_login(user), json=_wrong(user, n=i))
            answers.append((guess.status_code, guess.json()["code"]))
        elsewhere = await (await clients("2001:db8:7:2::1")).post(_login(user), json=_right(user))

    assert answers[0] == (401, "invalid_credentials")
    assert (429, "too_many_attempts") in answers, answers
    assert elsewhere.status_code == 200, elsewhere.text


@pytest.mark.asvs("AUTH-03")
async def test_no_hour_holds_more_than_100_failures_of_an_account(make_app: Factory) -> None:
    """ASVS 2.2.1: at most 100 failed attempts an hour on one account, however many addresses guess. The
    ceiling counts 50 failures over an hour from the first: no rolling hour overlaps more than two such counts."""
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(), stack)
        failed = 0
        for address in range(30):  # four each: under every address's own pacing
            http = await clients(f"203.0.113.{10 + address}")
            for i in range(4):
                answer = await http.post(_login(user), json=_wrong(user, n=i))
                if answer.status_code == 429:
                    break
                assert answer.status_code == 401, answer.text
                failed += 1
        held = await (await clients("203.0.113.99")).post(_login(user), json=_right(user))

    assert failed == 50
    assert (held.status_code, held.json()["code"]) == (429, "too_many_attempts")
    assert int(held.headers["Retry-After"]) > 45 * 60, "held for the hour, not a 15-minute window"


@pytest.mark.asvs("AUTH-02", "AUTH-03")
async def test_identifiers_without_an_account_are_throttled_and_answered_alike(make_app: Factory) -> None:
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(lockout_free_attempts=2, lockout_max_delay=30), stack)
        http = await clients("203.0.113.9")
        ghost = {"email": "nobody-here@example.com", "password": "wrong password"}
        existing = [_shape(await http.post(_login(user), json=_wrong(user, n=i))) for i in range(4)]
        unknown = [_shape(await http.post(_login(user), json=ghost)) for _ in range(4)]

    assert existing == unknown
    assert [status for status, _, _ in existing] == [401, 401, 401, 429]


@pytest.mark.asvs("AUTH-03", "LOG-03")
async def test_an_identifier_without_an_account_is_counted_by_its_digest_not_its_text(make_app: Factory) -> None:
    """A password typed into the username field names no account: the lockout counts it as any identifier (and
    refuses the fifth attempt), and so does the cap on reset requests, each under a keyed digest: no counter's
    key in Redis holds its text."""
    typed = f"Horse-Battery-{uuid.uuid4().hex[:6]}"  # a password, sent as a username
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(redis_url=REDIS_URL), stack)
        http = await clients(f"2001:db8:{uuid.uuid4().hex[:4]}::1")
        answers = [await http.post(_login(user), json={"username": typed, "password": "x"}) for _ in range(5)]
        forgot = await http.post(f"{user.auth_base}/forgot-password", json={"username": typed})

    assert [answer.status_code for answer in answers] == [401, 401, 401, 401, 429]
    assert forgot.status_code == 200, forgot.text
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key.decode() for key in redis.scan_iter(match=f"*{user.environment_id}*")]
        assert any("forgot" in key for key in keys), keys  # the cap's counter is there, by digest
        assert [key for key in redis.scan_iter() if typed.lower().encode() in key.lower()] == []
    finally:
        redis.close()


@pytest.mark.asvs("AUTH-03")
async def test_past_the_free_attempts_a_source_is_paced_without_waiting(make_app: Factory) -> None:
    async with AsyncExitStack() as stack:
        clients, _, user = await _setup(make_app(lockout_free_attempts=2, lockout_max_delay=30), stack)
        attacker = await clients("203.0.113.9")
        failures = [await attacker.post(_login(user), json=_wrong(user, n=i)) for i in range(3)]
        paced = await attacker.post(_login(user), json=_right(user))
        other_address = await (await clients("192.0.2.44")).post(_login(user), json=_right(user))

    assert [response.status_code for response in failures] == [401, 401, 401]
    assert paced.status_code == 429
    assert paced.json()["code"] == "too_many_attempts"
    assert paced.headers["retry-after"] == "1", "the first delay past the free attempts is one second"
    assert other_address.status_code == 200


@pytest.mark.asvs("AUTH-03", "REL-01")
async def test_throttled_sign_ins_hold_no_hashing_slot(make_app: Factory) -> None:
    """Attempts on a held account are refused at once, so they never take the slots others need (they used
    to sleep out the delay in them and made every other sign-in answer 503)."""
    async with AsyncExitStack() as stack:
        app = make_app(lockout_free_attempts=2, lockout_threshold=2, password_threads=2, password_queue_size=0)
        clients, world, user = await _setup(app, stack)
        others = [await world.add_end_user() for _ in range(2)]
        attacker = await clients("203.0.113.9")
        for i in range(2):
            await attacker.post(_login(user), json=_wrong(user, n=i))
        primed = [attacker.post(_login(user), json=_wrong(user, n=9)) for _ in range(9)]
        honest = [
            (await clients(f"192.0.2.{i + 1}")).post(_login(other), json=_right(other))
            for i, other in enumerate(others)
        ]
        answers = await asyncio.gather(*primed, *honest)

    assert [response.status_code for response in answers[:9]] == [429] * 9
    assert [response.status_code for response in answers[9:]] == [200] * 2


@pytest.mark.asvs("AUTH-04")
async def test_a_password_reset_lifts_the_lock(make_app: Factory, smtp: SmtpServer) -> None:
    async with AsyncExitStack() as stack:
        app = make_app(email_backend="smtp", smtp_url=f"smtp://127.0.0.1:{smtp.port}")
        clients, _, user = await _setup(app, stack)
        attacker = await clients("203.0.113.9")
        for i in range(4):
            await attacker.post(_login(user), json=_wrong(user, n=i))
        assert (await attacker.post(_login(user), json=_right(user))).status_code == 429

        await attacker.post(f"{user.auth_base}/forgot-password", json={"email": user.email})
        await app.state.outbox.run_once()
        token = reset_token(smtp.inbox.wait_for(user.email))
        new = {"token": token, "newPassword": "a fresh start 2026"}
        assert (await attacker.post(f"{user.auth_base}/reset-password", json=new)).status_code == 200
        after = await attacker.post(_login(user), json={"email": user.email, "password": "a fresh start 2026"})

    assert after.status_code == 200


@pytest.mark.asvs("AUTH-03", "AUTH-05")
async def test_a_password_reset_leaves_the_lock_of_the_second_factors_codes(
    make_app: Factory, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Who holds the mailbox but not the authenticator resets the password (the verified email keeps the
    factors), guesses codes until held, and resets again: the reset lifts the password's lock, never the codes'."""
    clock = Clock()
    monkeypatch.setattr(totp, "now", clock)
    async with AsyncExitStack() as stack:
        app = make_app(email_backend="smtp", smtp_url=f"smtp://127.0.0.1:{smtp.port}")
        clients, world, user = await _setup(app, stack)
        owner = await clients("198.51.100.1")
        verified = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}/email-verified"
        assert (await owner.post(verified, headers=world.owner.auth)).status_code == 204
        seed, _, _ = await enrol_totp(owner, user.auth_base, user.token, clock)
        attacker = await clients("203.0.113.9")
        password = PASSWORD
        for round_ in range(2):
            await attacker.post(f"{user.auth_base}/forgot-password", json={"email": user.email})
            await app.state.outbox.run_once()
            token = reset_token([m for m in smtp.inbox.to(user.email) if m["Subject"] == "Reset your password"][-1])
            password = f"a fresh start 2026 {round_}"
            reset = await attacker.post(
                f"{user.auth_base}/reset-password", json={"token": token, "newPassword": password}
            )
            assert reset.status_code == 200, reset.text
            first = await attacker.post(_login(user), json={"email": user.email, "password": password})
            assert first.status_code == 202, first.text
            answer = {"challenge": first.json()["challenge"], "code": clock.code(seed, 5)}
            guesses = [await attacker.post(f"{user.auth_base}/login/factor", json=answer) for _ in range(4)]
            codes = [(guess.status_code, guess.json()["code"]) for guess in guesses]
            if round_ == 0:
                assert codes == [(401, "invalid_code")] * 4
            else:
                assert codes == [(429, "too_many_attempts")] * 4, "the reset gave the codes no fresh count"


@pytest.mark.asvs("AUTH-03")
async def test_a_tenant_accounts_lock_is_per_source_too(make_app: Factory) -> None:
    async with AsyncExitStack() as stack:
        clients = Clients(make_app(), stack)
        world = await new_tenant(await clients("198.51.100.1"))
        login = f"/api/v1/auth/tenants/{world.tenant_id}/login"
        attacker = await clients("203.0.113.9")
        for i in range(4):
            wrong = {"email": world.owner.email, "password": f"wrong {i}"}
            assert (await attacker.post(login, json=wrong)).status_code == 401
        right = {"email": world.owner.email, "password": PASSWORD}
        refused = await attacker.post(login, json=right)
        elsewhere = await (await clients("192.0.2.44")).post(login, json=right)

    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert elsewhere.status_code == 200
