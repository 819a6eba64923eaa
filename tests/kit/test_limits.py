"""Per-IP rate limits (memory and Redis) and the bounded password-hashing pool."""

from __future__ import annotations

import ipaddress
import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.app import create_app
from sump.db.base import utcnow
from sump.db.tables.sessions import Session
from sump.sessions.service import purge_expired
from tests.support import Database, make_settings, new_tenant, tenant_body

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
    apps: list[FastAPI] = [create_app(make_settings(database, rate_limits=True, redis_url=redis_url)) for _ in range(2)]
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


@pytest.mark.asvs("AUTH-03")
async def test_ipv6_addresses_of_one_network_share_a_limit(limited_apps: list[FastAPI]) -> None:
    """One host holds a whole /64 (2^64 addresses): a new address of it per request is no new budget. An IPv4
    address written as IPv6 (`::ffff:a.b.c.d`) still counts as that IPv4 address alone."""
    network = ipaddress.IPv6Network((random.getrandbits(64) << 64, 64))
    statuses = []
    for offset in range(11):
        async with client_for(limited_apps[0], str(network[offset + 1])) as http:
            statuses.append((await http.post("/api/v1/tenants", json={"tenant": {}})).status_code)
    assert statuses == [400] * 10 + [429]
    async with client_for(limited_apps[0], str(network[random.getrandbits(63)])) as http:
        limited = await http.post("/api/v1/tenants", json={"tenant": {}})
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    async with client_for(limited_apps[0], fresh_ip()) as elsewhere:  # another network
        assert (await elsewhere.post("/api/v1/tenants", json={"tenant": {}})).status_code == 400

    mapped = [f"::ffff:{ipaddress.IPv4Address(random.getrandbits(32))}" for _ in range(11)]
    for address in mapped:
        async with client_for(limited_apps[0], address) as http:
            assert (await http.post("/api/v1/tenants", json={"tenant": {}})).status_code == 400, address


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
