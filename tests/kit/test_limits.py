"""Per-IP rate limits (memory and Redis) and the bounded password-hashing pool."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import bcrypt
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.app import create_app
from sump.db.base import utcnow
from sump.db.tables.sessions import Session
from sump.kit.errors import Problem
from sump.kit.passwords import PasswordHasher
from sump.sessions.service import purge_expired
from tests.support import PASSWORD, Database, make_settings, new_tenant, tenant_body

REDIS_URL = "redis://127.0.0.1:6379/0"


def fresh_ip() -> str:
    """A client address no earlier run has used, so counters kept in Redis never carry over."""
    return str(ipaddress.IPv6Address(random.getrandbits(128)))


def client_for(app: FastAPI, ip: str | None = None) -> httpx.AsyncClient:
    address = ip or fresh_ip()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://sump.test")


@pytest.fixture(params=["memory", "redis"])
async def limited_apps(database: Database, request: pytest.FixtureRequest) -> AsyncIterator[list[FastAPI]]:
    """Two nodes with rate limits on; with Redis they share one set of counters."""
    redis_url = REDIS_URL if request.param == "redis" else None
    apps = [create_app(make_settings(database, rate_limits=True, redis_url=redis_url)) for _ in range(2)]
    yield apps
    for app in apps:
        await app.state.engine.dispose()
        app.state.hasher.close()


@pytest.mark.asvs("AUTH-03")
async def test_tenant_creation_is_limited_per_ip(limited_apps: list[FastAPI]) -> None:
    ip = fresh_ip()
    statuses = []
    async with client_for(limited_apps[0], ip) as http:
        for _ in range(10):
            statuses.append((await http.post("/api/v1/tenants", json={"tenant": {}})).status_code)
        limited = await http.post("/api/v1/tenants", json=tenant_body())
    assert statuses == [400] * 10
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    async with client_for(limited_apps[0]) as elsewhere:
        assert (await elsewhere.post("/api/v1/tenants", json={"tenant": {}})).status_code == 400


async def test_limits_are_shared_between_nodes_only_through_redis(
    limited_apps: list[FastAPI], request: pytest.FixtureRequest
) -> None:
    ip = fresh_ip()
    async with client_for(limited_apps[0], ip) as first, client_for(limited_apps[1], ip) as second:
        for _ in range(10):
            await first.post("/api/v1/tenants", json={"tenant": {}})
        on_second = await second.post("/api/v1/tenants", json={"tenant": {}})
    shared = request.node.callspec.params["limited_apps"] == "redis"
    assert on_second.status_code == (429 if shared else 400)


@pytest.mark.asvs("VAL-08")
async def test_rotating_forwarded_for_from_untrusted_peer_does_not_reset_the_limit(
    limited_apps: list[FastAPI],
) -> None:
    ip = fresh_ip()
    async with client_for(limited_apps[0], ip) as http:
        for i in range(10):
            await http.post("/api/v1/tenants", json={"tenant": {}}, headers={"X-Forwarded-For": f"10.0.0.{i}"})
        response = await http.post("/api/v1/tenants", json={"tenant": {}}, headers={"X-Forwarded-For": "10.9.9.9"})
    assert response.status_code == 429


@pytest.mark.asvs("PWD-11")
async def test_full_hashing_queue_answers_503_at_once(database: Database) -> None:
    """With no queue beyond the worker threads, logins past the pool's capacity are refused, not queued."""
    app = create_app(make_settings(database, password_queue_size=0))
    try:
        async with client_for(app) as http:
            world = await new_tenant(http)
            url = f"/api/v1/auth/tenants/{world.tenant_id}/login"
            body = {"username": world.owner.username, "password": PASSWORD}
            responses = await asyncio.gather(*(http.post(url, json=body) for _ in range(8)))
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()
    statuses = sorted(response.status_code for response in responses)
    refused = [response for response in responses if response.status_code == 503]
    assert set(statuses) == {200, 503}
    assert statuses.count(200) >= app.state.hasher.workers
    assert all(response.headers["Retry-After"] == "1" for response in refused)
    assert all(response.json()["code"] == "overloaded" for response in refused)


@pytest.mark.asvs("PWD-11")
async def test_a_wait_longer_than_the_bound_is_refused_before_the_queue_is_full() -> None:
    """A newcomer waits only when the jobs ahead of it end within `admission_wait` at the recent pace of a hash, so
    when hashing slows (a busy CPU) newcomers are refused at once instead of waiting seconds, long before the
    queue is full."""
    hasher = PasswordHasher(workers=1, queue_size=100_000, max_wait=60)  # a slow, busy host still fits
    release = asyncio.Event()

    async def other_request(entered: asyncio.Event) -> None:
        """Takes a place as a request does, and keeps it (its hash not started) until released."""
        async with hasher.slot():
            entered.set()
            await release.wait()

    async def take_places(count: int) -> list[asyncio.Task[None]]:
        entered = [asyncio.Event() for _ in range(count)]
        tasks = [asyncio.create_task(other_request(event)) for event in entered]
        async with asyncio.timeout(10):  # a place refused ends its task without setting its event
            await asyncio.gather(*(event.wait() for event in entered))
        return tasks

    try:
        stored = await hasher.hash(PASSWORD)
        assert 0 < hasher.hash_seconds < hasher.admission_wait < hasher.max_wait
        fits = int(hasher.admission_wait / hasher.hash_seconds)  # jobs a newcomer may wait behind, with the thread
        held = await take_places(fits)
        assert hasher.expected_wait() <= hasher.admission_wait
        held += await take_places(1)
        assert hasher.expected_wait() > hasher.admission_wait
        with pytest.raises(Problem) as refused:
            await hasher.verify(stored, PASSWORD)
        assert (refused.value.status, refused.value.code, refused.value.headers) == (
            503,
            "overloaded",
            {"Retry-After": "1"},
        )
        release.set()
        await asyncio.gather(*held)
        assert hasher.pending == 0
        assert await hasher.verify(stored, PASSWORD) == (True, None)
    finally:
        release.set()
        hasher.close()


@pytest.mark.asvs("PWD-11")
async def test_a_job_let_in_that_then_waits_too_long_for_its_thread_is_refused() -> None:
    """When the load rises after a request was let in, its hash does not start late: past `max_wait` in the
    queue it is answered 503 like a newcomer, and the thread goes on to the next job."""
    hasher = PasswordHasher(workers=1, queue_size=4, max_wait=0.05)
    stored = await hasher.hash(PASSWORD)
    thread_free = threading.Event()
    try:
        busy = hasher.pool.submit(thread_free.wait)  # the only thread, taken by work of another kind
        late = asyncio.create_task(hasher.verify(stored, PASSWORD))
        await asyncio.sleep(0.2)  # the time the queued verification spends waiting: the subject of this test
        thread_free.set()
        with pytest.raises(Problem) as refused:
            await late
        assert (refused.value.status, refused.value.code) == (503, "overloaded")
        assert busy.result(timeout=5)
        assert hasher.pending == 0
        assert await hasher.verify(stored, PASSWORD) == (True, None)
    finally:
        thread_free.set()
        hasher.close()


@pytest.mark.asvs("PWD-11")
async def test_a_right_password_is_not_refused_when_only_its_rehash_waits_too_long() -> None:
    """A legacy hash is replaced after a successful check; if that second job waits past `max_wait`, the
    sign-in still succeeds and the replacement waits for a later sign-in."""
    hasher = PasswordHasher(workers=1, queue_size=4, max_wait=0.05)
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    thread_free = threading.Event()
    try:
        checking = asyncio.create_task(hasher.verify(legacy, PASSWORD))
        for _ in range(100):  # until the check is queued (the slot is taken just before)
            if hasher.pending:
                break
            await asyncio.sleep(0)
        busy = hasher.pool.submit(thread_free.wait)  # behind the check, ahead of the rehash that follows it
        await asyncio.sleep(0.2)  # the rehash waits behind `busy` longer than max_wait: the subject of the test
        thread_free.set()
        assert await checking == (True, None)
        assert busy.result(timeout=5)
        matches, replacement = await hasher.verify(legacy, PASSWORD)
        assert matches
        assert replacement is not None
        assert replacement.startswith("$argon2id$")
    finally:
        thread_free.set()
        hasher.close()


@pytest.mark.asvs("REL-08")
async def test_purge_removes_expired_and_idle_sessions_only(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession
) -> None:
    world = await new_tenant(client)
    account = uuid.UUID(world.owner.account_id)
    for _ in range(2):
        await world.login(username=world.owner.username)
    ids = list(await db.scalars(select(Session.id).where(Session.account_id == account).order_by(Session.id)))
    assert len(ids) == 3
    now = utcnow()
    await db.execute(update(Session).where(Session.id == ids[0]).values(expires_at=now - timedelta(seconds=1)))
    await db.execute(update(Session).where(Session.id == ids[1]).values(last_active_at=now - timedelta(days=8)))
    await db.commit()

    async with app.state.sessionmaker() as purge_db, purge_db.begin():
        assert await purge_expired(purge_db, app.state.settings) >= 2

    left = list(await db.scalars(select(Session.id).where(Session.account_id == account)))
    assert left == [ids[2]]
