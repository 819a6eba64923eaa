"""Passkeys on the hosted sign-in pages (Chromium's virtual authenticator, as `tests/factors` drives it): a
passkey alone, and a passkey as the second step; the options are JSON for the shared script, the answers are
CSRF-checked forms; without a relying party the options say why, and no button is shown."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.factors.authenticator import Authenticator, virtual_authenticator
from tests.factors.test_passkeys import passkey_environment, passkey_user
from tests.hosted.support import CHALLENGE, CSRF, csrf_of, found, pages, sign_in
from tests.support import PASSWORD, TenantWorld


@pytest.fixture
async def authenticator() -> AsyncIterator[Authenticator]:
    async with virtual_authenticator() as key:
        yield key


async def test_a_passkey_alone_signs_in(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    environment_id = await passkey_environment(world)
    await passkey_user(client, world, authenticator, environment_id)
    base = pages(environment_id)
    page = await browser.get(f"{base}/sign-in")
    assert "Sign in with a passkey" in page.text
    assert f'src="{base}/passkeys.js"' in page.text
    assert (await browser.get(f"{base}/passkeys.js")).headers["content-type"].startswith("text/javascript")
    csrf = found(CSRF, page.text)
    options = await browser.post(f"{base}/sign-in/passkey/options", data={"csrf": csrf})
    assert options.status_code == 200, options.text
    credential = await authenticator.get(options.json()["publicKey"])
    done = await browser.post(f"{base}/sign-in/passkey", data={"csrf": csrf, "credential": json.dumps(credential)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{base}/signed-in"
    assert "sump_hosted=" in done.headers["set-cookie"]

    browser.cookies.clear()
    csrf = await csrf_of(browser, f"{base}/sign-in")
    replayed = await browser.post(f"{base}/sign-in/passkey", data={"csrf": csrf, "credential": json.dumps(credential)})
    assert replayed.status_code == 401
    garbled = await browser.post(f"{base}/sign-in/passkey", data={"csrf": csrf, "credential": "{not json"})
    assert garbled.status_code == 400
    assert "could not be read" in garbled.text


async def test_a_passkey_answers_the_second_step(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld, authenticator: Authenticator
) -> None:
    environment_id = await passkey_environment(world)
    user = await passkey_user(client, world, authenticator, environment_id)
    base = pages(environment_id)
    first = await sign_in(browser, environment_id, user.email, PASSWORD)
    assert first.status_code == 200
    assert "Use a passkey" in first.text
    step = {"csrf": found(CSRF, first.text), "challenge": found(CHALLENGE, first.text)}
    options = await browser.post(f"{base}/sign-in/factor/options", data=step)
    assert options.status_code == 200, options.text
    credential = await authenticator.get(options.json()["publicKey"])
    done = await browser.post(f"{base}/sign-in/factor", data={**step, "credential": json.dumps(credential)})
    assert done.status_code == 303, done.text
    assert "sump_hosted=" in done.headers["set-cookie"]


async def test_without_a_relying_party_there_is_no_passkey(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    base = pages(world.environment_id)
    page = await browser.get(f"{base}/sign-in")
    assert "passkey" not in page.text.lower()
    options = await browser.post(f"{base}/sign-in/passkey/options", data={"csrf": found(CSRF, page.text)})
    assert options.status_code == 409
    assert options.json()["code"] == "passkeys_unavailable"
    refused = await browser.post(f"{base}/sign-in/passkey/options", data={"csrf": "0" * 64})
    assert refused.status_code == 403
