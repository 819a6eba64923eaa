"""Consent of a third-party client is kept: the next sign-in with the same scopes asks nothing, a wider scope
or `prompt=consent` asks again, and a first-party client never asks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests.hosted.support import CSRF, found, pages, sign_in
from tests.oidc.support import RP, answer, new_rp
from tests.support import PASSWORD, TenantWorld


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, as a browser does (the hosted session's among them)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.42", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http


async def _authorize(browser: httpx.AsyncClient, rp: RP, **overrides: str) -> httpx.Response:
    return await browser.get(f"/api/v1/environments/{rp.environment_id}/authorize", params=rp.query(**overrides))


def _page(response: httpx.Response) -> tuple[str, str]:
    """The hosted page a redirect leads to, and its request token."""
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    return location.path.rsplit("/", 1)[-1], parse_qs(location.query)["request"][0]


async def _allow(browser: httpx.AsyncClient, rp: RP, token: str) -> None:
    base = pages(rp.environment_id)
    page = await browser.get(f"{base}/consent", params={"request": token})
    allowed = await browser.post(
        f"{base}/consent", data={"csrf": found(CSRF, page.text), "request": token, "decision": "allow"}
    )
    assert allowed.status_code == 303, allowed.text
    assert "code" in answer(await browser.get(allowed.headers["location"]))


async def test_consent_is_kept_and_asked_again_only_when_needed(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world, firstParty=False)
    user = await world.add_end_user(world.environment_id)
    page, token = _page(await _authorize(browser, rp, scope="openid email"))
    assert page == "sign-in"
    signed_in = await sign_in(browser, world.environment_id, user.email, PASSWORD, request=token)
    page, token = _page(await browser.get(signed_in.headers["location"]))
    assert page == "consent"
    await _allow(browser, rp, token)

    assert "code" in answer(await _authorize(browser, rp, scope="openid email"))  # kept
    assert "code" in answer(await _authorize(browser, rp, scope="openid email", prompt="none"))
    page, token = _page(await _authorize(browser, rp, scope="openid email profile"))  # wider
    assert page == "consent"
    assert answer(await _authorize(browser, rp, scope="openid profile", prompt="none"))["error"] == "consent_required"
    page, token = _page(await _authorize(browser, rp, scope="openid email", prompt="consent"))
    assert page == "consent"
    await _allow(browser, rp, token)  # prompt=consent asks once, then goes on


async def test_a_first_party_client_never_asks(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    _page_name, token = _page(await _authorize(browser, rp))
    signed_in = await sign_in(browser, world.environment_id, user.email, PASSWORD, request=token)
    assert "code" in answer(await browser.get(signed_in.headers["location"]))
    assert "code" in answer(await _authorize(browser, rp, prompt="consent"))


async def test_consent_given_to_one_client_does_not_count_for_another(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """Consent is the end user's for one client: another third-party client asking the same scopes asks again
    (and with prompt=none answers consent_required)."""
    granted, other = await new_rp(client, world, firstParty=False), await new_rp(client, world, firstParty=False)
    user = await world.add_end_user(world.environment_id)
    page, token = _page(await _authorize(browser, granted, scope="openid email"))
    signed_in = await sign_in(browser, world.environment_id, user.email, PASSWORD, request=token)
    page, token = _page(await browser.get(signed_in.headers["location"]))
    assert page == "consent"
    await _allow(browser, granted, token)
    assert "code" in answer(await _authorize(browser, granted, scope="openid email"))

    page, _token = _page(await _authorize(browser, other, scope="openid email"))
    assert page == "consent"
    silent = answer(await _authorize(browser, other, scope="openid email", prompt="none"))
    assert silent["error"] == "consent_required"
    assert "code" not in silent
