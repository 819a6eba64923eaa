"""PostgreSQL stopping, starting and freezing under a serving application: every request answers at once with
a 503 problem (`service_unavailable`, `Retry-After`), never a 500 or a hang, and the application recovers
without a restart once the database is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from tests.faults.cluster import Cluster
from tests.kit.http_support import assert_problem, serving
from tests.support import PASSWORD, REQUESTS, Database, TenantWorld, make_settings, new_tenant, tenant_body

Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
RECOVERY_SECONDS = 5
FAST_SECONDS = 2


def requests(world: TenantWorld) -> dict[str, Request]:
    """A read, the session check, a sign-in and a write: one of each kind of database work."""
    return {
        "read": lambda http: http.get(world.base, headers=world.owner.auth),
        "session": lambda http: http.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=world.owner.auth),
        "login": lambda http: http.post(
            f"/api/v1/auth/tenants/{world.tenant_id}/login",
            json={"username": world.owner.username, "password": PASSWORD},
        ),
        "write": lambda http: http.post("/api/v1/tenants", json=tenant_body()),
    }


def assert_unavailable(response: httpx.Response) -> None:
    assert_problem(response, 503, "service_unavailable")
    assert response.headers["retry-after"].isdigit()
    for leak in ("asyncpg", "postgres", "127.0.0.1", "shutting down", "Timeout"):
        assert leak not in response.text


class Stalls:
    """How long this process's event loop could not run during a block, measured as the overshoot of short
    sleeps: on a loaded machine a request takes its own time plus that, so a bound on time allows for it (a
    request held by the database for seconds still fails the bound)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _probe(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(0.01)
            self.total += max(0.0, time.monotonic() - started - 0.01)

    async def __aenter__(self) -> Stalls:
        self._task = asyncio.create_task(self._probe())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def timed(request: Request, http: httpx.AsyncClient) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request(http)
    return response, time.monotonic() - started


async def until_recovered(http: httpx.AsyncClient, world: TenantWorld) -> None:
    """Every request answers 200 again within a few seconds; meanwhile only 200 or 503."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        response = await http.get(world.base, headers=world.owner.auth)
        if response.status_code == 200:
            break
        assert_unavailable(response)
        assert time.monotonic() < deadline, "the application did not recover once the database was back"
        await asyncio.sleep(0.1)  # between polls of a condition with a deadline
    for name, request in requests(world).items():
        response = await request(http)
        assert response.status_code in (200, 201), (name, response.text)


async def refused_while_shutting_down(cluster: Cluster) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        try:
            probe = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
        except asyncpg.CannotConnectNowError:
            return
        await probe.close()
        assert time.monotonic() < deadline, "the cluster did not start shutting down"
        await asyncio.sleep(0.05)  # between polls of a condition with a deadline


@pytest.mark.asvs("REL-05")
async def test_a_database_shutting_down_stopped_and_started_answers_503_then_recovers(running: Cluster) -> None:
    settings = make_settings(Database("postgresql", running.url), db_command_timeout=REQUESTS.command)
    async with serving(settings) as (_, http):
        world = await new_tenant(http)
        assert (await http.get(world.base, headers=world.owner.auth)).status_code == 200

        # A smart shutdown waits for the sessions still open; meanwhile new connections are refused (57P03).
        holder = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{running.port}/postgres")
        try:
            running.stop("smart", wait=False)
            await refused_while_shutting_down(running)
            async with serving(settings) as (_, fresh):  # no pooled connection: each request connects
                for name, request in requests(world).items():
                    # A fresh application builds a route's dependencies at its first request, on the event
                    # loop: CPU that a loaded machine may stretch, counted apart from the database's time.
                    async with Stalls() as stalls:
                        response, elapsed = await timed(request, fresh)
                    assert_unavailable(response)
                    assert elapsed < FAST_SECONDS + stalls.total, f"{name}: {elapsed:.2f} s, {stalls.total:.2f} s"
        finally:
            await holder.close(timeout=2)

        # A fast shutdown ends every session (57P01): the pooled connections die, then connections are refused.
        running.stop("fast")
        running.wait_stopped()
        for _ in range(2):
            for name, request in requests(world).items():
                async with Stalls() as stalls:
                    response, elapsed = await timed(request, http)
                assert_unavailable(response)
                assert elapsed < FAST_SECONDS + stalls.total, f"{name}: {elapsed:.2f} s, {stalls.total:.2f} s"

        running.start()
        await until_recovered(http, world)


@pytest.mark.asvs("REL-05")
async def test_a_frozen_database_answers_503_within_two_seconds_and_the_pool_recovers(running: Cluster) -> None:
    settings = make_settings(Database("postgresql", running.url), db_command_timeout=REQUESTS.command)
    async with serving(settings) as (application, http):
        world = await new_tenant(http)
        worlds = [world, *[await new_tenant(http) for _ in range(2)]]
        # Warm several pooled connections, so the freeze meets kept connections and new ones alike.
        await asyncio.gather(*(request(http) for w in worlds for request in requests(w).values()))

        running.freeze()
        try:
            for _ in range(2):  # the second round has no usable kept connection: each one connects anew
                calls = [request for w in worlds for request in requests(w).values()]
                async with Stalls() as stalls:
                    answers = await asyncio.gather(*(timed(request, http) for request in calls))
                for response, elapsed in answers:
                    assert_unavailable(response)
                    assert elapsed < FAST_SECONDS + stalls.total, f"{elapsed:.2f} s, {stalls.total:.2f} s stalled"
        finally:
            running.thaw()

        await until_recovered(http, world)
        pool = application.state.engine.pool
        assert pool.checkedout() == application.state.held.holding, pool.status()  # none stuck: the check's own
        # The pool serves a burst larger than itself once the database answers again.
        burst = [requests(worlds[n % 3])["read"] for n in range(40)]
        async with Stalls() as stalls:
            answers = await asyncio.gather(*(timed(request, http) for request in burst))
        refused = [(r.status_code, r.text[:200], round(elapsed, 2)) for r, elapsed in answers if r.status_code != 200]
        assert not refused, (refused, pool.status(), f"{stalls.total:.2f} s stalled")


@pytest.mark.asvs("REL-05")
async def test_a_frozen_database_does_not_exhaust_the_pool(running: Cluster) -> None:
    """More requests than the pool holds while the database is frozen: each answers 503 without a hang and the
    pool holds no stuck connection afterwards."""
    settings = make_settings(Database("postgresql", running.url), db_command_timeout=REQUESTS.command)
    async with serving(settings) as (application, http):
        world = await new_tenant(http)
        running.freeze()
        try:
            calls = [requests(world)["read" if n % 2 else "session"] for n in range(40)]
            async with Stalls() as stalls:
                answers = await asyncio.gather(*(timed(request, http) for request in calls))
        finally:
            running.thaw()
        for response, elapsed in answers:
            assert_unavailable(response)
            # Beyond the pool's size a request may wait for a connection (under 2 s) before its own bound.
            assert elapsed < 2 * FAST_SECONDS + stalls.total, f"{elapsed:.2f} s, {stalls.total:.2f} s stalled"
        await until_recovered(http, world)
        assert application.state.engine.pool.checkedout() == application.state.held.holding  # the check's own
        assert (await http.get(f"{world.base}", headers=world.owner.auth)).status_code == 200
        assert (await http.get(f"/api/v1/tenants/{uuid.uuid4()}", headers=world.owner.auth)).status_code == 404
