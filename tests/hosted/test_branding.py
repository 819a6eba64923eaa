"""An environment's branding: validated where it is saved (API and console), escaped where it is shown, the
colour through a style sheet of Sump's own, the logo's origin the only other image source the pages allow."""

from __future__ import annotations

import httpx
import pytest

from tests.console.test_forms import console_login
from tests.hosted.support import CSRF, csrf_of, found, pages
from tests.oidc.support import new_rp
from tests.support import TenantWorld

HOSTILE = [
    {"logoUrl": "javascript:alert(1)"},
    {"logoUrl": "http://evil.test/logo.png"},
    {"logoUrl": 'https://cdn.example.com/logo.png"onerror="alert(1)'},
    {"logoUrl": "data:image/png;base64,AAAA"},
    {"logoUrl": "https://cdn.example.com/a b.png"},
    {"primaryColor": "red"},
    {"primaryColor": "#fff"},
    {"primaryColor": "#12345g"},
    {"primaryColor": "#123456;} body { display: none"},
    {"displayName": "two\nlines"},
    {"displayName": "x" * 81},
    {"displayName": ""},
]


def settings_url(world: TenantWorld) -> str:
    return f"{world.base}/environments/{world.environment_id}"


async def brand(client: httpx.AsyncClient, world: TenantWorld, **settings: str | None) -> httpx.Response:
    return await client.patch(settings_url(world), json={"settings": settings}, headers=world.owner.auth)


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_branding_is_refused(
    client: httpx.AsyncClient, world: TenantWorld, hostile: dict[str, str]
) -> None:
    refused = await brand(client, world, **hostile)
    assert refused.status_code == 400, hostile
    assert refused.json()["code"] == "validation_failed"


async def test_branding_is_saved_shown_and_cleared(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    logo = "https://cdn.example.com/logo.png?size=2&theme=dark"
    saved = await brand(client, world, displayName="<b>Northwind</b> & Co", logoUrl=logo, primaryColor="#0A7D45")
    assert saved.status_code == 204, saved.text
    settings = (await client.get(settings_url(world), headers=world.owner.auth)).json()["settings"]
    assert (settings["displayName"], settings["logoUrl"], settings["primaryColor"]) == (
        "<b>Northwind</b> & Co",
        logo,
        "#0a7d45",
    )
    base = pages(world.environment_id)
    page = await browser.get(f"{base}/sign-in")
    assert "&lt;b&gt;Northwind&lt;/b&gt; &amp; Co" in page.text
    assert "<b>Northwind" not in page.text
    assert 'src="https://cdn.example.com/logo.png?size=2&amp;theme=dark"' in page.text
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data: https://cdn.example.com;" in policy
    assert "style-src 'self';" in policy
    assert "style=" not in page.text  # no inline style: the colour comes from brand.css
    sheet = await browser.get(f"{base}/brand.css")
    assert sheet.headers["content-type"].startswith("text/css")
    assert sheet.text == ":root { --brand: #0a7d45; }\n"

    cleared = await brand(client, world, displayName=None, logoUrl=None, primaryColor=None)
    assert cleared.status_code == 204
    page = await browser.get(f"{base}/sign-in")
    assert "cdn.example.com" not in page.text + page.headers["content-security-policy"]
    assert "brand.css" not in page.text
    assert (await browser.get(f"{base}/brand.css")).text == ""


async def test_http_logos_only_on_loopback(client: httpx.AsyncClient, world: TenantWorld) -> None:
    for logo in ("http://127.0.0.1:8080/logo.svg", "http://localhost/logo.svg", "http://[::1]:3000/l.png"):
        assert (await brand(client, world, logoUrl=logo)).status_code == 204, logo


async def test_forms_may_end_at_the_application_only_while_a_request_waits(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    base = pages(world.environment_id)
    plain = await browser.get(f"{base}/sign-in")
    assert "form-action 'self'" in plain.headers["content-security-policy"]
    rp = await new_rp(client, world)
    started = await browser.get(f"/api/v1/environments/{world.environment_id}/authorize", params=rp.query())
    waiting = await browser.get(started.headers["location"])
    assert waiting.status_code == 200
    assert "form-action" not in waiting.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in waiting.headers["content-security-policy"]
    assert waiting.headers["x-frame-options"] == "DENY"


async def test_the_consoles_settings_form_saves_and_checks_the_branding(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    assert (await console_login(browser, world)).status_code == 303
    detail = f"/console/environments/{world.environment_id}"
    csrf = await csrf_of(browser, detail)
    form = {"csrf": csrf, "signupEnabled": "on", "passwordMinLength": "8", "passwordMaxLength": "128"}
    form |= {"factorPolicy": "optional", "displayName": "Northwind", "primaryColor": "#123abc", "logoUrl": ""}
    saved = await browser.post(f"{detail}/settings", data=form)
    assert saved.status_code == 303, saved.text
    page = await browser.get(detail)
    assert 'value="Northwind"' in page.text
    assert 'value="#123abc"' in page.text
    hosted = await browser.get(f"{pages(world.environment_id)}/sign-in")
    assert 'data-testid="brand-name">Northwind<' in hosted.text

    refused = await browser.post(
        f"{detail}/settings", data={**form, "primaryColor": "blue", "csrf": found(CSRF, page.text)}
    )
    assert refused.status_code == 400
    assert 'id="e-primaryColor"' in refused.text
