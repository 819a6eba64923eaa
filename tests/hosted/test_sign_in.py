"""Hosted sign-in with a password: the session cookie on the issuer's path, the same answer for every wrong
pair, the lockout's answer, CSRF and origin checks, and the signed-in and signed-out pages."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.audit import AuditEvent
from tests.hosted.support import csrf_of, pages, sign_in
from tests.support import PASSWORD, TenantWorld, set_cookies


async def test_sign_in_sets_the_hosted_session_and_shows_the_signed_in_page(
    browser: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user = await world.add_end_user(world.environment_id)
    base = pages(world.environment_id)
    response = await sign_in(browser, world.environment_id, user.email, PASSWORD)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{base}/signed-in"
    cookie = set_cookies(response)["sump_hosted"]
    assert cookie.path == f"/api/v1/environments/{world.environment_id}/"
    assert cookie.httponly
    assert cookie.samesite == "lax"
    page = await browser.get(f"{base}/signed-in")
    assert page.status_code == 200
    assert 'data-testid="signed-in-as"' in page.text
    assert (await browser.get(f"{base}/sign-in")).headers["location"] == f"{base}/signed-in"
    events = (await db.scalars(select(AuditEvent).where(AuditEvent.action == "login.succeeded"))).all()
    assert any(event.details.get("channel") == "hosted" and str(event.target_id) == user.account_id for event in events)


@pytest.mark.parametrize("identifier", ["email", "username"])
async def test_any_identifier_signs_in(browser: httpx.AsyncClient, world: TenantWorld, identifier: str) -> None:
    user = await world.add_end_user(world.environment_id)
    response = await sign_in(browser, world.environment_id, getattr(user, identifier), PASSWORD)
    assert response.status_code == 303


async def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    wrong = await sign_in(browser, world.environment_id, user.email, "not-the-password")
    unknown = await sign_in(browser, world.environment_id, "nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Wrong identifier or password." in response.text
        assert "sump_hosted=" not in response.headers.get("set-cookie", "")
    assert wrong.text.replace(user.email, "X") == unknown.text.replace("nobody@example.com", "X")


async def test_the_lockout_answers_429_with_retry_after(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    answers = [await sign_in(browser, world.environment_id, user.username, "wrong-password") for _ in range(12)]
    held = [answer for answer in answers if answer.status_code == 429]
    assert held, [answer.status_code for answer in answers]
    assert int(held[0].headers["retry-after"]) > 0
    assert 'role="alert"' in held[0].text


async def test_a_form_without_its_csrf_token_or_from_another_site_is_refused(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    base = pages(world.environment_id)
    csrf = await csrf_of(browser, f"{base}/sign-in")
    form = {"identifier": user.email, "password": PASSWORD}
    missing = await browser.post(f"{base}/sign-in", data=form)
    forged = await browser.post(f"{base}/sign-in", data={**form, "csrf": "0" * 64})
    cross = await browser.post(f"{base}/sign-in", data={**form, "csrf": csrf}, headers={"Origin": "https://evil.test"})
    for refused in (missing, forged, cross):
        assert refused.status_code == 403
        assert "came from another site" in refused.text
        assert "sump_hosted=" not in refused.headers.get("set-cookie", "")


async def test_a_token_of_another_environments_pages_is_refused(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    other_environment = await world.add_environment()
    user = await world.add_end_user(world.environment_id)
    csrf = await csrf_of(browser, f"{pages(other_environment)}/sign-in")
    form = {"csrf": csrf, "identifier": user.email, "password": PASSWORD}
    refused = await browser.post(f"{pages(world.environment_id)}/sign-in", data=form)
    assert refused.status_code == 403


async def test_a_csrf_pair_of_another_environments_pages_is_refused_even_with_its_cookie(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The CSRF token is bound to its environment, not only by its cookie's path: the other environment's cookie
    and token, sent together to this environment's form, are refused and sign no one in."""
    other_environment = await world.add_environment()
    user = await world.add_end_user(world.environment_id)
    csrf = await csrf_of(browser, f"{pages(other_environment)}/sign-in")
    cookie = browser.cookies.get("sump_hosted_csrf", path=f"{pages(other_environment)}/")
    assert cookie
    browser.cookies.clear()
    form = {"csrf": csrf, "identifier": user.email, "password": PASSWORD}
    refused = await browser.post(
        f"{pages(world.environment_id)}/sign-in", data=form, headers={"Cookie": f"sump_hosted_csrf={cookie}"}
    )
    assert refused.status_code == 403
    assert "came from another site" in refused.text
    assert "sump_hosted=" not in refused.headers.get("set-cookie", "")


async def test_the_hosted_session_counts_only_in_its_environment(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    other_environment = await world.add_environment()
    user = await world.add_end_user(world.environment_id)
    assert (await sign_in(browser, world.environment_id, user.email, PASSWORD)).status_code == 303
    cookie = browser.cookies.get("sump_hosted", path=f"/api/v1/environments/{world.environment_id}/")
    assert cookie
    other = f"{pages(other_environment)}/signed-in"
    sent = await browser.get(other, headers={"Cookie": f"sump_hosted={cookie}"})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{pages(other_environment)}/sign-in"


async def test_sign_out_ends_the_session(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    base = pages(world.environment_id)
    assert (await sign_in(browser, world.environment_id, user.email, PASSWORD)).status_code == 303
    csrf = await csrf_of(browser, f"{base}/signed-in")
    out = await browser.post(f"{base}/logout", data={"csrf": csrf})
    assert out.status_code == 303
    assert out.headers["location"] == f"{base}/signed-out"
    assert (await browser.get(out.headers["location"])).status_code == 200
    assert (await browser.get(f"{base}/signed-in")).status_code == 303
    assert (await browser.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 200


async def test_pages_of_an_unknown_environment_are_not_found(browser: httpx.AsyncClient) -> None:
    for path in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = await browser.get(f"/api/v1/environments/{path}/hosted/sign-in")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "form",
    ["sign-in", "sign-in/factor", "sign-in/enrol", "sign-up", "forgot-password", "reset-password", "consent", "logout"],
)
async def test_every_form_checks_its_csrf_token_first(
    browser: httpx.AsyncClient, world: TenantWorld, form: str
) -> None:
    base = pages(world.environment_id)
    await browser.get(f"{base}/sign-in")  # the CSRF cookie, without the form's field
    refused = await browser.post(f"{base}/{form}", data={"identifier": "someone@example.com", "password": PASSWORD})
    assert refused.status_code == 403
    assert "came from another site" in refused.text
    as_json = await browser.post(f"{base}/{form}", json={"identifier": "someone@example.com"})
    assert as_json.status_code == 415


async def test_the_csrf_cookie_stays_on_the_hosted_pages(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    page = await browser.get(f"{pages(world.environment_id)}/sign-in")
    cookie = set_cookies(page)["sump_hosted_csrf"]
    assert cookie.path == f"{pages(world.environment_id)}/"
    assert cookie.httponly
    assert cookie.samesite == "lax"
