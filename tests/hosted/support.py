"""The hosted pages over HTTP: a cookie-keeping client (a browser without JavaScript) and the forms' fields."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
CHALLENGE = re.compile(r'name="challenge" value="([\w-]+)"')
FACTOR = re.compile(r'name="factorId" value="([0-9a-f-]{36})"')
SECRET = re.compile(r'data-testid="totp-secret">([A-Z2-7]{32})<')
RECOVERY = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def pages(environment_id: str) -> str:
    return f"/api/v1/environments/{environment_id}/hosted"


async def csrf_of(browser: httpx.AsyncClient, path: str) -> str:
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match is not None, page.text
    return match.group(1)


def found(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    assert match is not None, text
    return match.group(1)


async def sign_in(
    browser: httpx.AsyncClient, environment_id: str, identifier: str, password: str, **extra: str
) -> httpx.Response:
    base = pages(environment_id)
    form = {"csrf": await csrf_of(browser, f"{base}/sign-in"), "identifier": identifier, "password": password}
    return await browser.post(f"{base}/sign-in", data={**form, **extra})
