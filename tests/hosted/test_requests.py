"""The hosted pages serve a waiting authorization request: its client's name and login_hint on the sign-in page,
then the request's next step (`…/authorize/continue`), the consent page of a third-party client; an unknown,
finished or other environment's request is an error page that sends the browser nowhere."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.sessions import Session
from sump.oidc.flow import continue_url
from tests.hosted.support import CSRF, csrf_of, found, pages, sign_in
from tests.oidc.support import CALLBACK, RP, exchange, new_rp
from tests.support import PASSWORD, EndUser, TenantWorld, bearer

HOSTILE_TOKENS = ["https://evil.test/", "//evil.test", "javascript:alert(1)", "x" * 300, "%0d%0aLocation:%20x"]


async def waiting(browser: httpx.AsyncClient, rp: RP, **overrides: str) -> str:
    """Starts an authorization request without a session: the token of the hosted sign-in page it leads to."""
    started = await browser.get(f"/api/v1/environments/{rp.environment_id}/authorize", params=rp.query(**overrides))
    assert started.status_code == 302, started.text
    location = urlsplit(started.headers["location"])
    assert location.path == f"{pages(rp.environment_id)}/sign-in"
    return parse_qs(location.query)["request"][0]


def back_at_the_client(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def test_the_sign_in_page_names_the_client_and_takes_the_login_hint(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    token = await waiting(browser, rp, login_hint="someone@example.com")
    page = await browser.get(f"{pages(world.environment_id)}/sign-in", params={"request": token})
    assert page.status_code == 200
    assert 'value="someone@example.com"' in page.text
    assert f'name="request" value="{token}"' in page.text
    assert 'data-testid="client-name"' in page.text


async def test_a_first_party_sign_in_continues_the_request_to_its_code(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    query = rp.query()
    token = await waiting(browser, rp, state=query["state"])
    done = await sign_in(browser, world.environment_id, user.email, PASSWORD, request=token)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == continue_url(uuid.UUID(world.environment_id), token)
    answer = back_at_the_client(await browser.get(done.headers["location"]))
    assert answer["state"] == query["state"]
    assert answer["code"]


async def _third_party_at_consent(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> tuple[RP, EndUser, str]:
    rp = await new_rp(client, world, firstParty=False)
    user = await world.add_end_user(world.environment_id)
    token = await waiting(browser, rp)
    done = await sign_in(browser, world.environment_id, user.email, PASSWORD, request=token)
    consent = await browser.get(done.headers["location"])
    assert consent.status_code == 302
    assert urlsplit(consent.headers["location"]).path == f"{pages(world.environment_id)}/consent"
    return rp, user, token


async def test_consent_lists_the_scopes_in_words_and_allow_continues(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp, _user, token = await _third_party_at_consent(browser, client, world)
    base = pages(world.environment_id)
    page = await browser.get(f"{base}/consent", params={"request": token})
    assert page.status_code == 200
    assert "Your email address, and whether it is verified" in page.text
    assert "Your name" in page.text
    csrf = found(CSRF, page.text)
    allowed = await browser.post(f"{base}/consent", data={"csrf": csrf, "request": token, "decision": "allow"})
    assert allowed.status_code == 303
    assert allowed.headers["location"] == continue_url(uuid.UUID(rp.environment_id), token)
    assert back_at_the_client(await browser.get(allowed.headers["location"]))["code"]


async def test_deny_goes_back_with_access_denied(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    _rp, _user, token = await _third_party_at_consent(browser, client, world)
    base = pages(world.environment_id)
    csrf = await csrf_of(browser, f"{base}/consent?request={token}")
    denied = await browser.post(f"{base}/consent", data={"csrf": csrf, "request": token, "decision": "deny"})
    assert back_at_the_client(denied)["error"] == "access_denied"
    again = await browser.get(f"{base}/consent", params={"request": token})
    assert again.status_code == 400  # the request is finished


async def test_consent_without_a_session_goes_to_sign_in_first(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world, firstParty=False)
    token = await waiting(browser, rp)
    page = await browser.get(f"{pages(world.environment_id)}/consent", params={"request": token})
    assert page.status_code == 303
    assert page.headers["location"] == f"{pages(world.environment_id)}/sign-in?request={token}"
    # Its form, posted without a session, decides nothing either way: to sign-in, the request still waiting.
    csrf = await csrf_of(browser, f"{pages(world.environment_id)}/sign-in?request={token}")
    for decision in ("deny", "allow"):
        posted = await browser.post(
            f"{pages(world.environment_id)}/consent", data={"csrf": csrf, "request": token, "decision": decision}
        )
        assert posted.status_code == 303
        assert posted.headers["location"] == f"{pages(world.environment_id)}/sign-in?request={token}"
    assert (await browser.get(f"{pages(world.environment_id)}/sign-in", params={"request": token})).status_code == 200


@pytest.mark.parametrize("page", ["sign-in", "sign-up", "forgot-password", "consent"])
async def test_an_unknown_request_is_an_error_page_that_sends_nowhere(
    browser: httpx.AsyncClient, world: TenantWorld, page: str
) -> None:
    for token in ["no-such-request", *HOSTILE_TOKENS]:
        response = await browser.get(f"{pages(world.environment_id)}/{page}", params={"request": token})
        assert response.status_code == 400, (page, token)
        assert "location" not in response.headers
        assert "sign in from there again" in response.text
        assert "evil.test" not in response.text


async def test_a_form_posting_an_unknown_request_is_refused_without_signing_in(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    for token in ["no-such-request", *HOSTILE_TOKENS]:
        response = await sign_in(browser, world.environment_id, user.email, PASSWORD, request=token)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "sump_hosted=" not in response.headers.get("set-cookie", "")


async def test_another_environments_request_is_unknown_here(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    other_environment = await world.add_environment()
    rp = await new_rp(client, world, other_environment)
    token = await waiting(browser, rp)
    user = await world.add_end_user(world.environment_id)
    page = await browser.get(f"{pages(world.environment_id)}/sign-in", params={"request": token})
    assert page.status_code == 400
    refused = await sign_in(browser, world.environment_id, user.email, PASSWORD, request=token)
    assert refused.status_code == 400
    assert "location" not in refused.headers


async def test_no_form_field_chooses_where_a_sign_in_goes(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    extra = {"next": "https://evil.test/", "redirect_uri": "https://evil.test/", "continue": "//evil.test"}
    done = await sign_in(browser, world.environment_id, user.email, PASSWORD, **extra)
    assert done.status_code == 303
    assert done.headers["location"] == f"{pages(world.environment_id)}/signed-in"


FORMS = ["sign-in", "sign-in/factor", "sign-in/enrol", "sign-up", "forgot-password", "consent"]


@pytest.mark.parametrize("form", FORMS)
async def test_every_form_refuses_an_unknown_request_before_anything_else(
    browser: httpx.AsyncClient, world: TenantWorld, form: str
) -> None:
    base = pages(world.environment_id)
    csrf = await csrf_of(browser, f"{base}/sign-in")
    fields = {"csrf": csrf, "identifier": "someone@example.com", "password": PASSWORD, "code": "123456"}
    for token in HOSTILE_TOKENS:
        response = await browser.post(f"{base}/{form}", data={**fields, "request": token, "decision": "allow"})
        assert response.status_code == 400, (form, token)
        assert "location" not in response.headers
        assert "evil.test" not in response.text


async def test_a_reset_token_in_the_query_is_shown_escaped(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    hostile = '"><script>alert(1)</script>'
    page = await browser.get(f"{pages(world.environment_id)}/reset-password", params={"token": hostile})
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page.text


async def test_only_an_explicit_allow_consents(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """A consent form whose decision is missing or anything but `allow` denies: back to the client with
    access_denied, no code, and no consent kept for the next request."""
    rp, _user, token = await _third_party_at_consent(browser, client, world)
    base = pages(world.environment_id)
    csrf = await csrf_of(browser, f"{base}/consent?request={token}")
    answered = await browser.post(f"{base}/consent", data={"csrf": csrf, "request": token, "decision": "Allow"})
    back = back_at_the_client(answered)
    assert back["error"] == "access_denied"
    assert "code" not in back
    again = await browser.get(f"/api/v1/environments/{rp.environment_id}/authorize", params=rp.query())
    assert urlsplit(again.headers["location"]).path == f"{base}/consent"
    token = parse_qs(urlsplit(again.headers["location"]).query)["request"][0]
    csrf = await csrf_of(browser, f"{base}/consent?request={token}")
    missing = await browser.post(f"{base}/consent", data={"csrf": csrf, "request": token})
    assert back_at_the_client(missing)["error"] == "access_denied"


@pytest.mark.parametrize("who", ["same_account", "another_account", "after_expiry"])
async def test_signing_in_again_for_one_application_keeps_the_others_refresh_tokens(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, who: str
) -> None:
    """Application B asks for a new sign-in (`prompt=login`); the browser's session is replaced by a new one (a
    new token), but the refresh tokens application A took from the old session go on with it: signing in again
    for B must not sign the end user out of A. Another account signing in in that browser ends them, and a
    session that had expired revives none of its dormant tokens."""
    first, second = await new_rp(client, world), await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    token = await waiting(browser, first)
    signed_in = await sign_in(browser, world.environment_id, user.email, PASSWORD, request=token)
    code = back_at_the_client(await browser.get(signed_in.headers["location"]))["code"]
    exchanged = await exchange(client, first, code)
    assert exchanged.status_code == 200, exchanged.text

    if who == "after_expiry":
        dormant = utcnow() - timedelta(days=60)
        await db.execute(
            update(Session).where(Session.account_id == uuid.UUID(user.account_id)).values(last_active_at=dormant)
        )
        await db.commit()
    again = await waiting(browser, second, prompt="login")
    other = await world.add_end_user(world.environment_id) if who == "another_account" else user
    base = pages(world.environment_id)
    form = {"csrf": await csrf_of(browser, f"{base}/sign-in?request={again}"), "request": again}
    signed_in = await browser.post(f"{base}/sign-in", data=form | {"identifier": other.email, "password": PASSWORD})
    assert back_at_the_client(await browser.get(signed_in.headers["location"]))["code"]

    form = {"grant_type": "refresh_token", "refresh_token": exchanged.json()["refresh_token"]}
    refreshed = await client.post(first.token_url, data=form, headers=first.basic)
    if who == "same_account":
        assert refreshed.status_code == 200, refreshed.text
        info = await client.get(f"{first.issuer}/userinfo", headers=bearer(refreshed.json()["access_token"]))
        assert info.json()["sub"] == user.account_id
    else:
        assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")
