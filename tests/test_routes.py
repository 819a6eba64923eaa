"""The API's routers are tried in the order of `sump.app.API_ROUTERS`, chosen for speed (the end users' requests
first). That order must never decide which route a request reaches: no path may match routes of two routers."""

from __future__ import annotations

import itertools
import re

from fastapi.routing import APIRoute

from sump.app import API_ROUTERS

_PARAMETER = re.compile(r"\{[^}]+\}")


def _could_meet(one: str, other: str) -> bool:
    """Some path matches both templates: a parameter segment (`{name}`, one segment of anything) meets any segment,
    a segment with a parameter inside it meets a literal it matches, literals meet when equal."""
    mine, theirs = one.strip("/").split("/"), other.strip("/").split("/")
    if len(mine) != len(theirs):
        return False
    for a, b in zip(mine, theirs, strict=True):
        if a == b or _PARAMETER.fullmatch(a) or _PARAMETER.fullmatch(b):
            continue
        pattern, literal = (a, b) if _PARAMETER.search(a) else (b, a)
        if _PARAMETER.search(literal):
            return True  # two segments that each mix text and parameters: counted as meeting, to be looked at
        if not re.fullmatch("[^/]+".join(map(re.escape, _PARAMETER.split(pattern))), literal):
            return False
    return True


def test_could_meet_tells_templates_apart_as_the_router_would() -> None:
    assert _could_meet("/tenants/{tenantId}", "/tenants/{id}")
    assert _could_meet("/tenants/{tenantId}/accounts", "/tenants/{tenantId}/{part}")
    assert _could_meet("/keys/{name}.json", "/keys/jwks.json")
    assert not _could_meet("/keys/{name}.json", "/keys/jwks.txt")
    assert not _could_meet("/tenants/{tenantId}", "/tenants/{tenantId}/accounts")
    assert not _could_meet("/auth/tenants/{id}/login", "/auth/environments/{id}/login")


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
