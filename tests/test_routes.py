"""The API's routers are tried in the order of `sump.app.API_ROUTERS`, chosen for speed (the end users' requests
first). That order must never decide which route a request reaches: no path may match routes of two routers."""

from __future__ import annotations

import itertools
import re

from fastapi.routing import APIRoute
from starlette.routing import compile_path

from sump.app import API_ROUTERS

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
