"""The authorization endpoint and the flow's continuation: where the browser goes, and the OpenID
Foundation's basic OP negative cases that the authorization endpoint decides."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.clients import AuthorizationRequest
from sump.db.tables.sessions import Session
from sump.kit.crypto import token_digest
from sump.oidc import repository as oidc_repository
from tests.clients.support import application, machine, register
from tests.oidc.support import (
    CALLBACK,
    RP,
    answer,
    authorize,
    exchange,
    hosted,
    new_rp,
    used_by_another_after_read,
)
from tests.support import TenantWorld, expire


def _continued(response: httpx.Response, page: str) -> str:
    """The request token of a redirect to a hosted page."""
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert location.path.endswith(f"/hosted/{page}"), response.headers["location"]
    return parse_qs(location.query)["request"][0]


async def _continue(http: httpx.AsyncClient, rp: RP, token: str, headers: dict[str, str]) -> httpx.Response:
    url = f"/api/v1/environments/{rp.environment_id}/authorize/continue"
    return await http.get(url, params={"request": token}, headers=headers)


async def test_a_signed_in_end_user_goes_back_with_code_state_and_issuer(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    response = await authorize(client, rp, user, state="xyz")
    found = answer(response)
    assert set(found) == {"code", "state", "iss"}
    assert found["state"] == "xyz"
    assert found["iss"] == rp.issuer
    assert response.headers["cache-control"] == "no-store"


async def test_without_a_session_the_hosted_sign_in_page_then_continue_issues_the_code(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    token = _continued(await authorize(client, rp, None, login_hint=user.email), "sign-in")
    assert "code" in answer(await _continue(client, rp, token, hosted(user)))
    again = await _continue(client, rp, token, hosted(user))  # used once
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_request_token"


async def test_a_request_posted_as_a_form_goes_on_as_the_same_request_by_get(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """OpenID Connect Core §3.1.2.1: the authorization endpoint takes POST too. A form's parameters, repeated ones
    kept, come back as the same request by GET (303), relative to the endpoint, which a browser follows as a
    top-level navigation carrying the hosted session's SameSite cookie."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    url = f"/api/v1/environments/{rp.environment_id}/authorize"
    parameters = rp.query(state="by-post")
    posted = await client.post(url, data=parameters, headers=hosted(user))
    assert posted.status_code == 303, posted.text
    location = posted.headers["location"]
    assert location.startswith("authorize?")
    assert parse_qs(urlsplit(location).query) == {key: [value] for key, value in parameters.items()}
    found = answer(await client.get(urljoin(str(posted.url), location), headers=hosted(user)))
    assert found["state"] == "by-post"
    assert "code" in found

    form = {"Content-Type": "application/x-www-form-urlencoded", **hosted(user)}
    repeated = await client.post(url, content=urlencode(parameters) + "&scope=openid", headers=form)
    again = answer(await client.get(urljoin(str(repeated.url), repeated.headers["location"]), headers=hosted(user)))
    assert again["error"] == "invalid_request"
    assert again["error_description"] == "A parameter is repeated."
    elsewhere = await client.post(f"/api/v1/environments/{uuid.uuid4()}/authorize", data=parameters)
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "environment_not_found")
    too_long = await client.post(url, data=parameters | {"login_hint": "a" * 4097})
    assert (too_long.status_code, too_long.json()["code"]) == (400, "parameter_too_long")
    in_all = await client.post(url, data=parameters | {f"x{n}": "%" * 1000 for n in range(3)})
    assert (in_all.status_code, in_all.json()["code"]) == (400, "request_too_long")
    # It changes nothing: a browser's API session cookie sent along from another origin is no reason to refuse it.
    cookie = {"Cookie": "sump_session=anything", "Origin": "https://app.example.com"}
    assert (await client.post(url, data=parameters, headers=cookie)).status_code == 303


async def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    for uri in (
        "https://evil.example.com/callback",
        CALLBACK + "/more",
        CALLBACK + "?next=https://evil.example.com",
        "https://app.example.com/callbac",
        "https://app.example.com.evil.example.com/callback",
        "https://app.example.com@evil.example.com/callback",
        CALLBACK + "#fragment",
        "http://127.0.0.1.evil.example.com/callback",
        "http://127.0.0.1:8000/other",
        "http://127.0.0.1:80@evil.example\\@127.0.0.1/callback",  # a browser goes to evil.example
        "HTTPS://APP.EXAMPLE.COM/callback",
        "",
    ):
        response = await authorize(client, rp, user, redirect_uri=uri)
        assert response.status_code == 400, uri
        assert response.json()["code"] == "invalid_redirect_uri"
        assert "location" not in response.headers
    missing = await authorize(client, rp, user, redirect_uri=None)
    assert missing.status_code == 400
    assert "location" not in missing.headers


async def test_a_loopback_redirect_uri_matches_on_any_port(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world, redirectUris=["http://127.0.0.1/callback"])
    user = await world.add_end_user(world.environment_id)
    response = await authorize(client, rp, user, redirect_uri="http://127.0.0.1:53124/callback")
    assert response.headers["location"].startswith("http://127.0.0.1:53124/callback?code=")


async def test_unknown_client_and_another_environments_client_get_an_error_page(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    theirs = await new_rp(client, other)
    user = await world.add_end_user(world.environment_id)
    rp = await new_rp(client, world)
    for client_id in ("sump_unknown", theirs.client_id, None):
        rp_query = {"client_id": client_id}
        response = await authorize(client, rp, user, **rp_query)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_client"
        assert "location" not in response.headers


async def test_a_machine_clients_id_is_no_client_of_the_authorization_endpoint(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """Only applications take part in the code flow: a machine client's id answers the unknown client's error
    page, whatever redirect URI comes with it."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    robot = await register(client, world, machine())
    response = await authorize(client, rp, user, client_id=robot["clientId"])
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_client"
    assert "location" not in response.headers


async def test_plain_pkce_is_refused(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    plain = answer(await authorize(client, rp, user, code_challenge=rp.verifier, code_challenge_method="plain"))
    assert plain["error"] == "invalid_request"
    assert "S256" in plain["error_description"]
    assert plain["iss"] == rp.issuer
    defaulted = answer(await authorize(client, rp, user, code_challenge_method=None))  # RFC 7636: plain
    assert defaulted["error"] == "invalid_request"
    missing = answer(await authorize(client, rp, user, code_challenge=None, code_challenge_method=None))
    assert missing["error"] == "invalid_request"
    assert "code" not in missing


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"scope": "email profile"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "select_account"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"request_uri": "https://app.example.com/request.jwt"}, "request_uri_not_supported"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge": "too-short-to-be-an-s256-challenge"}, "invalid_request"),
        ({"code_challenge": "A" * 44}, "invalid_request"),  # a verifier's length, no S256 challenge's (43)
    ],
)
async def test_other_errors_go_back_to_the_client_with_state(
    client: httpx.AsyncClient, world: TenantWorld, override: dict[str, str | None], error: str
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    found = answer(await authorize(client, rp, user, state="s1", **override))
    assert found["error"] == error
    assert found["state"] == "s1"
    assert found["iss"] == rp.issuer
    assert "code" not in found


@pytest.mark.parametrize("name", ["max_age", "response_mode", "request", "request_uri", "prompt", "nonce", "state"])
async def test_a_parameter_sent_without_a_value_is_as_if_omitted(
    client: httpx.AsyncClient, world: TenantWorld, name: str
) -> None:
    """RFC 6749 §3.1: parameters sent without a value MUST be treated as if they were omitted."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    found = answer(await authorize(client, rp, user, **{name: ""}))
    assert "error" not in found, found
    assert "code" in found


async def test_prompt_none_without_a_session_answers_login_required(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    found = answer(await authorize(client, rp, None, prompt="none", state="s2"))
    assert found["error"] == "login_required"
    assert found["state"] == "s2"


async def test_prompt_none_with_consent_needed_answers_consent_required(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world, firstParty=False)
    user = await world.add_end_user(world.environment_id)
    assert answer(await authorize(client, rp, user, prompt="none"))["error"] == "consent_required"
    _continued(await authorize(client, rp, user), "consent")


async def test_a_redirect_uri_taken_from_the_registration_receives_nothing_more(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """An admin who removes a redirect URI (its domain lapsed, say) means it: a request begun for it before, still
    waiting at the sign-in page, sends no code there, and a code already sent there is not exchanged."""
    old = "https://old.example.com/cb"
    created = await register(client, world, application(redirectUris=[CALLBACK, old], scopes=["openid"]))
    rp = RP(world, world.environment_id, created["clientId"], created["clientSecret"])
    user = await world.add_end_user(world.environment_id)
    waiting = _continued(await authorize(client, rp, None, redirect_uri=old), "sign-in")
    sent = await authorize(client, rp, user, redirect_uri=old)
    assert sent.headers["location"].startswith(old + "?"), sent.headers["location"]
    code = parse_qs(urlsplit(sent.headers["location"]).query)["code"][0]

    url = f"{world.base}/environments/{world.environment_id}/clients/{created['id']}"
    removed = await client.patch(url, json={"redirectUris": [CALLBACK]}, headers=world.owner.auth)
    assert removed.status_code == 204, removed.text

    refused = await _continue(client, rp, waiting, hosted(user))
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_request_token")
    exchanged = await exchange(client, rp, code, redirect_uri=old)
    assert (exchanged.status_code, exchanged.json()["error"]) == (400, "invalid_grant")
    assert exchanged.json()["error_description"] == "The redirect_uri is no longer registered."
    assert "code" in answer(await authorize(client, rp, user)), "the registered one works on"


async def test_prompt_login_asks_for_a_new_sign_in(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    token = _continued(await authorize(client, rp, user, prompt="login"), "sign-in")
    # The session from before the request does not count; a new sign-in does.
    _continued(await _continue(client, rp, token, hosted(user)), "sign-in")
    fresh = await world.add_end_user(world.environment_id)
    assert "code" in answer(await _continue(client, rp, token, hosted(fresh)))


async def test_max_age_forces_sign_in(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    earlier = utcnow() - timedelta(minutes=10)
    session_id = uuid.UUID(user.session_id)
    await db.execute(update(Session).where(Session.id == session_id).values(created_at=earlier))
    await db.commit()
    _continued(await authorize(client, rp, user, max_age="300"), "sign-in")
    assert "code" in answer(await authorize(client, rp, user, max_age="3600"))
    assert answer(await authorize(client, rp, user, max_age="300", prompt="none"))["error"] == "login_required"
    # A sign-in made for the request counts even with max_age=0.
    token = _continued(await authorize(client, rp, user, max_age="0"), "sign-in")
    _continued(await _continue(client, rp, token, hosted(user)), "sign-in")
    fresh = await world.add_end_user(world.environment_id)
    assert "code" in answer(await _continue(client, rp, token, hosted(fresh)))


async def test_a_hosted_session_of_another_environment_counts_as_none(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    stranger = await world.add_end_user()  # a new environment of the same tenant
    _continued(await authorize(client, rp, stranger), "sign-in")


async def test_repeated_parameters_are_refused(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    url = f"/api/v1/environments/{rp.environment_id}/authorize"
    params = httpx.QueryParams([*rp.query().items(), ("scope", "openid")])
    response = await client.get(url, params=params, headers=hosted(user))
    assert answer(response)["error"] == "invalid_request"
    twice = httpx.QueryParams([*rp.query().items(), ("redirect_uri", "https://evil.example.com/callback")])
    refused = await client.get(url, params=twice, headers=hosted(user))
    assert refused.status_code == 400
    assert "location" not in refused.headers


async def test_an_expired_request_is_not_continued(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A request older than its 10 minutes is gone, even for a signed-in end user: no code, no redirect."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    token = _continued(await authorize(client, rp, None), "sign-in")
    await expire(db, AuthorizationRequest, AuthorizationRequest.token_hash == token_digest(token))
    refused = await _continue(client, rp, token, hosted(user))
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_request_token"
    assert "location" not in refused.headers


async def test_concurrent_continuations_of_one_request_issue_one_code(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    token = _continued(await authorize(client, rp, None), "sign-in")
    answers = await asyncio.gather(*(_continue(client, rp, token, hosted(user)) for _ in range(8)))
    assert sorted(response.status_code for response in answers) == [302] + [400] * 7
    assert "code" in answer(next(response for response in answers if response.status_code == 302))
    refused = {response.json()["code"] for response in answers if response.status_code == 400}
    assert refused == {"invalid_request_token"}


async def test_a_request_is_used_once_by_its_own_update(
    client: httpx.AsyncClient, world: TenantWorld, app: FastAPI
) -> None:
    """The conditional UPDATE alone decides which continuation issues the code: a second use of a request, by a
    continuation that read it before the first committed, is refused on either database, whatever the timing."""
    rp = await new_rp(client, world)
    token = _continued(await authorize(client, rp, None), "sign-in")
    async with app.state.sessionmaker() as db:
        request = await db.scalar(
            select(AuthorizationRequest).where(AuthorizationRequest.token_hash == token_digest(token))
        )
    assert request is not None
    assert request.used_at is None
    uses = []
    for _ in range(2):
        async with app.state.sessionmaker() as db, db.begin():
            uses.append(await oidc_repository.use_request(db, request.environment_id, request.id, utcnow()))
    assert uses == [True, False]


async def test_an_overlong_state_nonce_or_hint_is_invalid_request_and_the_state_is_not_echoed(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """state and nonce are kept to 512 characters and login_hint to 256; a longer one is refused, and a state
    too long to be one goes back to no one."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    long_state = answer(await authorize(client, rp, user, state="s" * 513))
    assert long_state["error"] == "invalid_request"
    assert long_state["error_description"] == "state is too long."
    assert "state" not in long_state
    assert "code" not in long_state
    long_nonce = answer(await authorize(client, rp, user, state="s1", nonce="n" * 513))
    assert (long_nonce["error"], long_nonce["state"]) == ("invalid_request", "s1")
    assert long_nonce["error_description"] == "nonce is too long."
    long_hint = answer(await authorize(client, rp, user, login_hint="h" * 257))
    assert long_hint["error_description"] == "login_hint is too long."
    # At the limits, the request goes on.
    assert "code" in answer(await authorize(client, rp, user, state="s" * 512, nonce="n" * 512, login_hint="h" * 256))


async def test_a_continuation_that_read_the_request_before_another_finished_it_issues_no_code(
    client: httpx.AsyncClient, world: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order that a race makes, fixed: the continuation reads the request while it waits, another one
    finishes it just after (its update lands first), and this one answers the finished request's error page,
    without a code, whatever it had read."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    token = _continued(await authorize(client, rp, None), "sign-in")
    used_by_another_after_read(monkeypatch, "request_by_digest", AuthorizationRequest)
    refused = await _continue(client, rp, token, hosted(user))
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_request_token"
    assert "location" not in refused.headers
