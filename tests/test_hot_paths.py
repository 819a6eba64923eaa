"""The pure-ASGI session check and JWKS (`sump.hot_paths`) answer exactly as the framework's routes do: same
status, body, headers and problem codes, for every kind of credential, good or not."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.app import create_app
from sump.db.tables.tokens import KeyStatus, SigningKey
from sump.hot_paths import HotPaths
from sump.kit.crypto import sign_cookie
from sump.tokens import service as tokens
from tests.auth.tenant_sessions import set_session
from tests.clients.support import application, register
from tests.support import SECRET, Database, TenantWorld, make_settings, new_tenant, statements

REQUEST_ID = "parity-check-1"
FAST: Any = HotPaths


@pytest.fixture
async def framework(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an application on the same database without the hot paths: every request goes through
    the framework's routes and middleware."""
    application = create_app(make_settings(database))
    application.hot_paths = False
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False, client=("203.0.113.7", 50000))
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as http:
            yield http
    finally:
        await application.state.engine.dispose()
        application.state.hasher.close()


async def assert_same(
    fast: httpx.AsyncClient, framework: httpx.AsyncClient, path: str, **headers: str
) -> httpx.Response:
    """Both answers to one request, compared whole; returns the fast one."""
    sent = {"X-Request-Id": REQUEST_ID, **headers}
    ours, theirs = await fast.get(path, headers=sent), await framework.get(path, headers=sent)
    assert ours.status_code == theirs.status_code, (ours.text, theirs.text)
    assert ours.content == theirs.content
    tagged = {"etag": ours.headers["etag"]} if "etag" in ours.headers else {}  # the framework's JWKS has none
    assert dict(ours.headers) == dict(theirs.headers) | tagged
    assert [name for name in ours.headers if name != "etag"] == list(theirs.headers)  # in the same order
    return ours


def cookie(token: str) -> str:
    return f"sump_session={sign_cookie(SECRET, token)}"


async def test_the_hot_paths_are_in_the_application(client: httpx.AsyncClient) -> None:
    application = client._transport.app  # type: ignore[attr-defined]
    assert application.hot_paths
    await client.get("/health/live")  # the front layers are put together at the first request
    layer = application._front
    while not isinstance(layer, FAST):
        layer = layer.app
    assert layer.app == application.framework


@pytest.mark.asvs("SESS-01")
async def test_tenant_session_check_by_bearer_and_cookie(
    client: httpx.AsyncClient, framework: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    path = f"/api/v1/auth/tenants/{world.tenant_id}/session"
    ok = await assert_same(client, framework, path, Authorization=f"Bearer {world.owner.token}")
    assert ok.status_code == 200
    assert ok.json()["accountId"] == world.owner.account_id
    assert (await assert_same(client, framework, path, Cookie=cookie(world.owner.token))).status_code == 200
    # bearer wins over the cookie, whichever is valid
    both = {"Authorization": f"Bearer {other.owner.token}", "Cookie": cookie(world.owner.token)}
    assert (await assert_same(client, framework, path, **both)).status_code == 401
    refused = [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {'x' * 300}"},
        {"Authorization": f"Basic {world.owner.token}"},
        {"Cookie": f"sump_session={world.owner.token}"},  # unsigned
        {"Cookie": cookie(world.owner.token)[:-3] + "abc"},  # bad signature
        {"Authorization": f"Bearer {other.owner.token}"},  # another tenant's session
    ]
    for headers in refused:
        answer = await assert_same(client, framework, path, **headers)
        assert answer.status_code == 401, headers
        assert answer.json()["code"] == "unauthenticated"
        assert answer.json()["requestId"] == REQUEST_ID


async def test_environment_session_check_and_the_other_family(
    client: httpx.AsyncClient, framework: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    path = f"/api/v1/auth/environments/{world.environment_id}/session"
    assert (await assert_same(client, framework, path, Authorization=f"Bearer {user.token}")).status_code == 200
    assert (await assert_same(client, framework, path, Cookie=cookie(user.token))).status_code == 200
    elsewhere = f"/api/v1/auth/environments/{await world.add_environment()}/session"
    assert (await assert_same(client, framework, elsewhere, Authorization=f"Bearer {user.token}")).status_code == 401
    owner = await assert_same(client, framework, path, Authorization=f"Bearer {world.owner.token}")
    assert owner.status_code == 401  # a tenant account's session is not an end user's
    tenant_path = f"/api/v1/auth/tenants/{world.tenant_id}/session"
    assert (await assert_same(client, framework, tenant_path, Authorization=f"Bearer {user.token}")).status_code == 401


@pytest.mark.asvs("SESS-05")
async def test_expired_and_idle_sessions_are_refused_alike(
    client: httpx.AsyncClient, framework: httpx.AsyncClient, db: AsyncSession
) -> None:
    for column in ("expires_at", "last_active_at"):
        world = await new_tenant(client)
        session = await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=world.owner.auth)
        await set_session(db, session.json()["id"], **{column: datetime.now(UTC) - timedelta(days=31)})
        path = f"/api/v1/auth/tenants/{world.tenant_id}/session"
        assert (
            await assert_same(client, framework, path, Authorization=f"Bearer {world.owner.token}")
        ).status_code == 401


async def test_forms_the_framework_answers_itself_still_reach_it(
    client: httpx.AsyncClient, framework: httpx.AsyncClient, world: TenantWorld
) -> None:
    auth = {"Authorization": f"Bearer {world.owner.token}"}
    for path in (
        f"/api/v1/auth/tenants/{world.tenant_id}/session?x=%00",  # a NUL in the query: 400
        f"/api/v1/auth/tenants/{world.tenant_id.replace('-', '')}/session",  # a UUID in another spelling
        f"/api/v1/auth/tenants/{world.tenant_id}/session/",  # no such route
        "/api/v1/auth/tenants/not-a-uuid/session",
        f"/api/v1/auth/tenants/{world.tenant_id}/session?any=thing",  # an unknown parameter is ignored
    ):
        await assert_same(client, framework, path, **auth)
    head = await client.head(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=auth)
    assert (
        head.status_code
        == (await framework.head(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=auth)).status_code
    )


async def test_jwks_is_the_framework_answer_with_an_entity_tag(
    client: httpx.AsyncClient, framework: httpx.AsyncClient, world: TenantWorld
) -> None:
    await world.add_end_user(world.environment_id)  # keys are made with the first token
    path = f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json"
    keys = await assert_same(client, framework, path)
    assert keys.status_code == 200
    assert keys.headers["cache-control"] == "public, max-age=300"
    etag = keys.headers["etag"]
    for given in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        unchanged = await client.get(path, headers={"If-None-Match": given})
        assert unchanged.status_code == 304
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
        assert unchanged.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(path, headers={"If-None-Match": '"other"'})).status_code == 200
    missing = await assert_same(client, framework, f"/api/v1/environments/{uuid.uuid4()}/.well-known/jwks.json")
    assert missing.status_code == 404
    assert missing.json()["code"] == "environment_not_found"


def jwks_path(world: TenantWorld) -> str:
    return f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json"


async def sign_first_token(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """An end user's first access token, which makes the environment's first keys (an active and a next)."""
    user = await world.add_end_user(world.environment_id)
    url = f"/api/v1/auth/environments/{world.environment_id}/token"
    signed = await client.post(url, json={"grantType": "session"}, headers=user.auth)
    assert signed.status_code == 200, signed.text


async def test_jwks_is_served_from_memory_once_read(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    await sign_first_token(client, world)
    first = await client.get(jwks_path(world))
    with statements(app) as sent:
        again = await client.get(jwks_path(world))
        unchanged = await client.get(jwks_path(world), headers={"If-None-Match": first.headers["etag"]})
    assert sent == []
    assert (again.status_code, again.content, again.headers["etag"]) == (200, first.content, first.headers["etag"])
    assert unchanged.status_code == 304


async def test_a_rotation_by_this_worker_is_published_at_once(client: httpx.AsyncClient, world: TenantWorld) -> None:
    await sign_first_token(client, world)
    before = {key["kid"] for key in (await client.get(jwks_path(world))).json()["keys"]}
    rotate = f"{world.base}/environments/{world.environment_id}/keys/rotate"
    rotated = await client.post(rotate, headers=world.owner.auth)
    assert rotated.status_code == 200, rotated.text
    after = {key["kid"] for key in (await client.get(jwks_path(world))).json()["keys"]}
    assert before < after  # the new next key is published; the old ones stay


async def test_a_change_made_elsewhere_is_published_after_the_fresh_seconds(
    client: httpx.AsyncClient, db: AsyncSession, world: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker or node changed the keys (here: all retired long ago, so none is published): this worker
    serves what it read until `JWKS_FRESH` seconds have passed, then reads the keys again."""
    await sign_first_token(client, world)
    kept = (await client.get(jwks_path(world))).json()["keys"]
    assert kept
    retired_long_ago = datetime.now(UTC) - timedelta(days=30)
    await db.execute(
        update(SigningKey)
        .where(SigningKey.environment_id == uuid.UUID(world.environment_id))
        .values(status=KeyStatus.RETIRED, retired_at=retired_long_ago)
    )
    await db.commit()
    now = tokens.PUBLISHED.clock()
    monkeypatch.setattr(tokens.PUBLISHED, "clock", lambda: now + tokens.JWKS_FRESH - 0.5)
    assert (await client.get(jwks_path(world))).json()["keys"] == kept
    monkeypatch.setattr(tokens.PUBLISHED, "clock", lambda: now + tokens.JWKS_FRESH + 0.5)
    assert (await client.get(jwks_path(world))).json()["keys"] == []


async def test_a_set_without_the_next_key_is_read_again_at_every_request(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """An environment's first token makes its first keys: a JWKS served empty before must not hide them, also
    from a worker that did not make them (which hears of no rotation): the empty set is not kept at all."""
    environment_id = uuid.UUID(world.environment_id)
    assert (await client.get(jwks_path(world))).json() == {"keys": []}
    assert tokens.PUBLISHED.get(environment_id) is None
    await sign_first_token(client, world)
    assert len((await client.get(jwks_path(world))).json()["keys"]) == 2
    assert tokens.PUBLISHED.get(environment_id) is not None  # a set with the next key is kept


async def test_jwks_reads_of_unknown_environments_share_the_checks_held_connections(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A JWKS of an unknown environment is never kept, so each is read: on the session check's few held
    connections, so that a flood of made-up ids cannot take the rest of the pool."""
    pool, most = app.state.engine.pool, [0]

    def checked_out(*_: Any) -> None:
        most[0] = max(most[0], pool.checkedout())

    event.listen(app.state.engine.sync_engine, "checkout", checked_out)
    try:
        answers = await asyncio.gather(
            *(client.get(f"/api/v1/environments/{uuid.uuid4()}/.well-known/jwks.json") for _ in range(30))
        )
    finally:
        event.remove(app.state.engine.sync_engine, "checkout", checked_out)
    assert {answer.status_code for answer in answers} == {404}
    assert {answer.json()["code"] for answer in answers} == {"environment_not_found"}
    assert most[0] <= app.state.held.size  # the held ones, opened as the flood asked for them, and no others
    assert pool.checkedout() == app.state.held.holding


async def test_a_set_without_the_access_tokens_keys_is_not_kept(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """An application registered for RS256 ID tokens before the environment's first token makes the RSA keys
    first: a JWKS of those alone must not hide the ES256 key the first access token makes."""
    environment_id = uuid.UUID(world.environment_id)
    await register(client, world, application(idTokenSignedResponseAlg="RS256"))
    assert {key["kty"] for key in (await client.get(jwks_path(world))).json()["keys"]} == {"RSA"}
    assert tokens.PUBLISHED.get(environment_id) is None
    await sign_first_token(client, world)
    assert {key["kty"] for key in (await client.get(jwks_path(world))).json()["keys"]} == {"RSA", "EC"}
    assert tokens.PUBLISHED.get(environment_id) is not None
