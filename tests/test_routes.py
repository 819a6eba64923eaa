"""The API's routers are tried in the order of `sump.app.API_ROUTERS`, chosen for speed (the end users' requests
first). That order must never decide which route a request reaches: no path may match routes of two routers."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, compile_path

from sump.app import API_ROUTERS, create_app
from sump.kit.lazy_app import LazyApp
from tests.call_graph import CallGraph
from tests.support import Database, make_settings

_PARAMETER = re.compile(r"\{[^}]+\}")


def _could_meet(one: str, other: str) -> bool:
    """Some path matches both templates, segment by segment as the router compiles them: a segment with a
    parameter meets a literal its pattern matches, literals meet when equal, and two segments that both hold a
    parameter are counted as meeting."""
    mine, theirs = one.strip("/").split("/"), other.strip("/").split("/")
    if len(mine) != len(theirs):
        return False
    for a, b in zip(mine, theirs, strict=True):
        if _PARAMETER.search(a) and _PARAMETER.search(b):
            continue
        pattern, literal = (a, b) if _PARAMETER.search(a) else (b, a)
        if not compile_path(pattern)[0].match(literal):
            return False
    return True


def test_could_meet_tells_templates_apart_as_the_router_would() -> None:
    assert _could_meet("/tenants/{tenantId}", "/tenants/{id}")
    assert _could_meet("/tenants/{tenantId}/accounts", "/tenants/{tenantId}/{part}")
    assert _could_meet("/keys/{name}.json", "/keys/jwks.json")
    assert not _could_meet("/keys/{name}.json", "/keys/jwks.txt")
    assert not _could_meet("/tenants/{tenantId}", "/tenants/{tenantId}/accounts")
    assert not _could_meet("/auth/tenants/{id}/login", "/auth/environments/{id}/login")
    assert not _could_meet("/a/{x}.json/one", "/a/{y}.json/two")  # a later segment tells them apart
    assert not _could_meet("/keys/jwks.json", "/keys/jwksxjson")  # a literal dot is no pattern


def test_no_path_reaches_routes_of_two_routers() -> None:
    routes = [
        (n, route.path, frozenset(route.methods or ()))
        for n, router in enumerate(API_ROUTERS)
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    assert all(":" not in path for _, path, _ in routes)  # no `{name:path}`: a parameter is one segment
    met = [
        f"{a} {sorted(a_methods)} and {b} {sorted(b_methods)}"
        for (n, a, a_methods), (m, b, b_methods) in itertools.combinations(routes, 2)
        if n != m and a_methods & b_methods and _could_meet(a, b)
    ]
    assert met == []
    assert len(routes) > 100  # the routers' own routes were read


# Every route that can sign someone in (issue a session), on every pathway: the API of both families, the token
# endpoint, the console, the hosted pages; sign-in, second step, passkey, link, sign-up and tenant creation. A
# new one is added here once it counts its attempts per address as these do.
SESSION_ROUTES = {
    ("POST", "/api/v1/tenants"),
    ("POST", "/api/v1/auth/tenants/{tenantId}/login"),
    ("POST", "/api/v1/auth/tenants/{tenantId}/login/factor"),
    ("POST", "/api/v1/auth/tenants/{tenantId}/login/enrol/totp/confirm"),
    ("POST", "/api/v1/auth/tenants/{tenantId}/login/passkey"),
    ("POST", "/api/v1/auth/environments/{environmentId}/login"),
    ("POST", "/api/v1/auth/environments/{environmentId}/login/factor"),
    ("POST", "/api/v1/auth/environments/{environmentId}/login/enrol/totp/confirm"),
    ("POST", "/api/v1/auth/environments/{environmentId}/login/passkey"),
    ("POST", "/api/v1/auth/environments/{environmentId}/signup"),
    ("POST", "/api/v1/auth/environments/{environmentId}/magic-link/sign-in"),
    ("POST", "/api/v1/auth/environments/{environmentId}/invitations/signup"),
    ("POST", "/api/v1/auth/environments/{environmentId}/token"),
    ("POST", "/console/login"),
    ("POST", "/console/login/factor"),
    ("POST", "/console/login/enrol"),
    ("POST", "/console/login/passkey"),
    ("POST", "/console/setup"),
    ("POST", "/api/v1/environments/{environment_id}/hosted/sign-in"),
    ("POST", "/api/v1/environments/{environment_id}/hosted/sign-in/factor"),
    ("POST", "/api/v1/environments/{environment_id}/hosted/sign-in/enrol"),
    ("POST", "/api/v1/environments/{environment_id}/hosted/sign-in/passkey"),
    ("POST", "/api/v1/environments/{environment_id}/hosted/sign-up"),
}
ISSUE = "sump.sessions.service.issue"
REDIRECT = ("/console", "sump.app.create_app.<locals>.<lambda>")  # `/console` to `/console/`, a lambda
PER_IP = {"sump.kit.ratelimit.hit_per_ip"}  # a route dependency (`per_ip(...)`); services call `call.limiter.hit`


def _served_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every route the application serves, with its full path: the API's routers, the console and the hosted pages
    (built now, as their first request would build them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # an included router
            yield from _served_routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount) and isinstance(route.app, LazyApp):
            yield from _served_routes(route.app.routes, prefix + route.path)


def _handlers(route: APIRoute) -> Iterator[str]:
    """The functions a request to `route` runs: its endpoint and its dependencies, theirs included."""
    yield f"{route.endpoint.__module__}.{route.endpoint.__qualname__}"
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        pending.extend(dependency.dependencies)
        module, name = getattr(dependency.call, "__module__", ""), getattr(dependency.call, "__qualname__", "")
        if module.startswith("sump.") and name:
            yield f"{module}.{name}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, APIRoute]]:
    database = Database("sqlite", f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('routes') / 'unused.db'}")
    app = create_app(make_settings(database))
    try:
        return list(_served_routes(app.routes))
    finally:
        app.state.hasher.close()


@pytest.mark.asvs("AUTH-07")
def test_every_route_that_issues_a_session_is_listed_and_counts_attempts_per_address(
    served: list[tuple[str, APIRoute]],
) -> None:
    graph = CallGraph.of_sump()
    issuing: dict[tuple[str, str], set[str]] = {}
    unread = []
    for path, route in served:
        reached: set[str] = set()
        for handler in _handlers(route):
            if handler not in graph.functions and (path, handler) != REDIRECT:
                unread.append(handler)
            reached |= graph.reach(handler)
        if ISSUE in reached:
            issuing |= {(method, path): reached for method in route.methods or ()}
    assert unread == [], "handlers the call graph could not find"
    assert len(served) > 250  # the API, the console and the hosted pages were read

    assert set(issuing) == SESSION_ROUTES
    unlimited = sorted(
        f"{method} {path}"
        for (method, path), reached in issuing.items()
        if not any(written.endswith("limiter.hit") for written in graph.calls_written(reached))
        and not PER_IP & {graph.canonical(target) for function in reached for target in graph.calls[function]}
    )
    assert unlimited == [], "routes that issue a session without counting attempts per address"


def test_the_call_graph_follows_imports_re_exports_and_nested_handlers() -> None:
    graph = CallGraph.of_sump()
    assert ISSUE in graph.reach("sump.auth.service.sign_in")
    assert "sump.auth.service._signed_in" in graph.reach("sump.auth.routes.family_router.<locals>.login")
    assert ISSUE not in graph.reach("sump.auth.token_routes.me"), "a local variable is no call of a function"
