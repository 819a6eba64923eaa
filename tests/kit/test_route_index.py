"""Routing by the shape of a path (`kit.route_index`): the routes it leaves out of the framework's loop are ones
that could not match, so every request reaches what it reached over all of them, 404 and 405 alike."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRouter
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Match

from sump.app import create_app
from sump.kit import route_index
from sump.kit.route_index import RouteIndex
from tests.support import Database, make_settings

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_PARAMETER = re.compile(r"\{[^}]+\}")


def _unused_database(directory: Path) -> Database:
    """Routing reads no database: a SQLite file that is never opened."""
    return Database("sqlite", f"sqlite+aiosqlite:///{directory / 'routing.db'}")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> RouteIndex:
    app = create_app(make_settings(_unused_database(tmp_path_factory.mktemp("routing"))))
    stack = app.router.middleware_stack
    assert isinstance(stack, RouteIndex)
    return stack


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def _selected(routes: list[BaseRoute], method: str, path: str) -> tuple[Match, BaseRoute | None]:
    """What the framework's loop picks: the first full match, else the first partial one."""
    partial = None
    for route in routes:
        match, _ = route.matches(_scope(method, path))
        if match == Match.FULL:
            return match, route
        if match == Match.PARTIAL and partial is None:
            partial = route
    return (Match.PARTIAL, partial) if partial is not None else (Match.NONE, None)


def _assert_same_route(index: RouteIndex, path: str) -> None:
    subset = index._subset(index.shape(path)).routes
    for method in METHODS:
        assert _selected(subset, method, path) == _selected(index.router.routes, method, path), (method, path)
    # Nothing that could match, even partly, is left out.
    every = [route for route in index.router.routes if route.matches(_scope("GET", path))[0] != Match.NONE]
    assert [route for route in every if route not in subset] == [], path


def _paths_of_templates(index: RouteIndex) -> list[str]:
    templates = {"/".join(segments) for found in index._templates for segments, _ in found or ()}
    paths = set()
    for template in templates:
        path = _PARAMETER.sub(str(uuid.uuid4()), template)
        parts = path.split("/")
        paths |= {path, path + "/", path + "/extra", "/".join(parts[:-1]), path.replace("api", "apx", 1)}
        paths |= {"/".join([*parts[:i], "unknown", *parts[i + 1 :]]) for i in range(1, len(parts))}
    return sorted(paths)


def test_every_path_of_every_route_reaches_what_it_reaches_over_all_routes(index: RouteIndex) -> None:
    paths = _paths_of_templates(index)
    assert len(paths) > 1000  # the routes' own templates were read
    for path in paths:
        _assert_same_route(index, path)


def test_a_request_is_looked_for_in_its_own_router_alone(index: RouteIndex) -> None:
    """The point of the index: the admin list of end users, behind a dozen routers, is tried in its own."""
    path = f"/api/v1/environments/{uuid.uuid4()}/accounts"
    (router,) = index._subset(index.shape(path)).routes
    assert router.matches(_scope("GET", path))[0] == Match.FULL
    assert index.router.routes.index(router) > 10


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                sorted(
                    {
                        "",
                        "api",
                        "v1",
                        "tenants",
                        "environments",
                        "auth",
                        "accounts",
                        "session",
                        "login",
                        "console",
                        "hosted",
                        "api-docs",
                        "static",
                        ".well-known",
                        "jwks.json",
                        "health",
                        "x.json",
                    }
                )
            ),
            st.just(str(uuid.UUID(int=7))),
            st.text(alphabet="abc-._~%", max_size=4),
        ),
        max_size=9,
    )
)
def test_no_path_misses_a_route_that_could_match_it(index: RouteIndex, segments: list[str]) -> None:
    _assert_same_route(index, "/" + "/".join(segments))


async def test_a_route_added_after_the_first_request_is_reached(tmp_path: Path) -> None:
    app = create_app(make_settings(_unused_database(tmp_path)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/late")).status_code == 404
        app.add_api_route("/late", lambda: {"late": True})
        response = await http.get("/late")
    assert (response.status_code, response.json()) == (200, {"late": True})


async def test_a_router_that_redirects_slashes_still_redirects() -> None:
    """Sump's router does not redirect; a router that does tries the other form of the path before its 404, and
    the index keeps the routes that other form could match."""
    app = FastAPI()
    app.add_api_route("/items/{item}", lambda item: {"item": item})
    router: APIRouter = app.router
    assert router.redirect_slashes
    assert isinstance(route_index.install(router), RouteIndex)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get("/items/7/")
        assert (response.status_code, response.headers["location"]) == (307, "http://test/items/7")
        assert (await http.get("/items/7")).json() == {"item": "7"}
        assert (await http.post("/items/7")).status_code == 405


def test_a_router_with_middleware_of_its_own_is_left_alone() -> None:
    router = APIRouter()
    router.middleware_stack = lambda *_: None  # type: ignore[assignment]
    assert not isinstance(route_index.install(router), RouteIndex)


def test_a_path_of_many_segments_makes_a_short_key_and_reaches_what_it_reaches(index: RouteIndex) -> None:
    """Kept keys stay small whatever a client sends: a path deeper than every template is cut to the depth the
    mounts need."""
    for path in ("/console/" + "a/" * 5000, "/" + "x/" * 5000, "/api/v1/environments/e/hosted/" + "p/" * 50):
        assert len(index.shape(path)) <= index._depth + 1
        _assert_same_route(index, path)
    routers = [index._subset(index.shape("/" + "x/" * n)) for n in range(20, 60)]
    assert all(router is routers[0] for router in routers)  # one copy of the router kept for them all
