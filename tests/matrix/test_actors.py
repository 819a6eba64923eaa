"""The cross-tenant matrix, actor by actor: every `/api/v1` route against the seven actors of `table.py`.

Every row runs against a scene of its own (`scene.py`). A route of the app without a row fails
`test_every_route_has_a_row`: new routes must be added to the table.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from tests.matrix.scene import REQUESTS, Scene, request_for
from tests.matrix.table import ACTORS, FRESH_TARGETS, MATRIX, RUN_ORDER, Route
from tests.support import TenantWorld, set_cookies, tenant_body


def api_routes(app: FastAPI) -> set[Route]:
    """(method, path template) of every route of the app under `/api/v1`."""
    routes: set[Route] = set()
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if isinstance(context.original_route, APIRoute) and path.startswith("/api/v1/"):
            routes.update((method, path) for method in context.methods or ())
    return routes


def is_success(status: int) -> bool:
    return 200 <= status < 300


def report(route: Route, got: dict[str, int], expected: dict[str, int]) -> str:
    lines = [f"{' '.join(route)}:", f"  {'actor':<10} expected  got"]
    for actor in ACTORS:
        flag = "" if got[actor] == expected[actor] else "  <-- differs"
        lines.append(f"  {actor:<10} {expected[actor]:>8}  {got[actor]:>3}{flag}")
    return "\n".join(lines)


@pytest.mark.asvs("AC-01")
async def test_every_route_has_a_row(app: FastAPI) -> None:
    routes = api_routes(app)
    assert routes - MATRIX.keys() == set(), "routes without a row in the matrix: add them to TABLE"
    assert MATRIX.keys() - routes == set(), "rows of the matrix without a route"
    assert set(REQUESTS) <= routes
    assert routes >= FRESH_TARGETS


@pytest.mark.asvs("AC-01", "AC-02", "SESS-09")
@pytest.mark.parametrize("route", list(MATRIX), ids=" ".join)
async def test_matrix(client: httpx.AsyncClient, route: Route) -> None:
    method, path = route
    scene = await Scene.build(client, path)
    got: dict[str, int] = {}
    for actor in RUN_ORDER:
        if route in FRESH_TARGETS:
            await scene.aim(path)
        scene.actor = actor
        call = request_for(route, scene)
        url = path.format(**scene.ids)
        response = await client.request(method, url, json=call.json, params=call.params, headers=scene.headers(actor))
        got[actor] = response.status_code

    expected = MATRIX[route]
    unexpected_success = [actor for actor in ACTORS if is_success(got[actor]) and got[actor] != expected[actor]]
    assert unexpected_success == [], report(route, got, expected)
    assert [got[actor] for actor in ACTORS] == [expected[actor] for actor in ACTORS], report(route, got, expected)


@pytest.mark.asvs("SESS-09")
async def test_a_session_cookie_counts_only_in_its_own_tenant(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = await client.post("/api/v1/tenants", json=tenant_body())
    assert created.status_code == 201
    own = created.json()["tenantId"]
    cookie = {"Cookie": f"sump_session={set_cookies(created)['sump_session'].value}"}

    assert (await client.get(f"/api/v1/auth/tenants/{own}/session", headers=cookie)).status_code == 200
    assert (await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=cookie)).status_code == 401
    assert (await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/sessions", headers=cookie)).status_code == 401
    assert (await client.get(world.base, headers=cookie)).status_code == 404
    assert (await client.get(f"{world.base}/accounts", headers=cookie)).status_code == 404
    end_users = await client.get(f"/api/v1/environments/{world.environment_id}/accounts", headers=cookie)
    assert end_users.status_code == 404
