"""Routing by the shape of a path, in front of the framework's router.

The framework tries the application's top-level routes in turn, and each included router tries each of its
routes' regular expressions with bookkeeping around each: about 4 µs a route, so a request for a route behind
eighty others spends a third of a millisecond before any work. `RouteIndex` keeps, for each *shape* of a path
(its segments, each segment that no route template names literally written as `*`), the top-level routes that
could match it, in their order, and hands the request to the framework's own routing loop over only those.

A route that could match is never left out: a template's segment with a parameter counts as matching any
segment, a mount any path below it, and a route of a kind not read here (or a path parameter spanning segments)
every path. So the loop meets the same first full match and the same first partial match as over all routes,
and answers as the framework would, 404 and 405 (with its `Allow`) included.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from fastapi.routing import APIRouter, _IncludedRouter
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

_ANY = "*"  # a path segment that no template names literally
_SHAPES_KEPT = 4096

# A template: its segments, and whether it matches deeper paths too (a mount).
Template = tuple[tuple[str, ...], bool]


def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


def _templates(route: BaseRoute, prefix: str = "") -> list[Template] | None:
    """The path templates a top-level route answers, or None when it may answer any path."""
    if isinstance(route, _IncludedRouter):
        inner = route.original_router
        if inner._low_priority_routes:
            return None
        found: list[Template] = []
        for child in inner.routes:
            templates = _templates(child, prefix + route.include_context.prefix)
            if templates is None:
                return None
            found += templates
        return found
    if isinstance(route, Mount):
        return None if ":" in route.path else [(_segments(prefix + route.path), True)]
    if isinstance(route, Route | WebSocketRoute):
        return None if ":" in route.path else [(_segments(prefix + route.path), False)]
    return None


def _could_match(template: Template, shape: tuple[str, ...]) -> bool:
    segments, deep = template
    if len(shape) < len(segments) or (len(shape) > len(segments) and not deep):
        return False
    return all("{" in mine or mine == theirs for mine, theirs in zip(segments, shape, strict=False))


class RouteIndex:
    """The router's `middleware_stack`: each request goes to the framework's routing loop over the top-level
    routes its path's shape could match. Rebuilt when the router's routes change."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._build()

    def _build(self) -> None:
        self._routes = list(self.router.routes)
        self._templates = [_templates(route) for route in self._routes]
        known = [segments for templates in self._templates for segments, _ in templates or ()]
        self._literals = frozenset(segment for segments in known for segment in segments if "{" not in segment)
        # A path of more segments than any template holds matches only mounts, by its first ones: they are all
        # its shape needs, so a long path makes no long key.
        self._depth = max(map(len, known), default=1)
        self._routers: dict[tuple[int, ...], APIRouter] = {}
        self._router_for = functools.lru_cache(maxsize=_SHAPES_KEPT)(self._subset)

    def shape(self, path: str) -> tuple[str, ...]:
        literals = self._literals
        return tuple(s if s in literals else _ANY for s in path.split("/", self._depth))

    def _subset(self, shape: tuple[str, ...]) -> APIRouter:
        """A copy of the router whose routes are those that could match paths of this shape, in their order (or
        of the shape with its trailing slash toggled, which the router tries before a 404 when it redirects)."""
        shapes = [shape]
        if self.router.redirect_slashes and shape != ("", ""):
            shapes.append(shape[:-1] if shape[-1] == "" else (*shape, ""))
        chosen = tuple(
            n
            for n, templates in enumerate(self._templates)
            if templates is None or any(_could_match(template, one) for template in templates for one in shapes)
        )
        subset = self._routers.get(chosen)
        if subset is None:
            subset = self._routers[chosen] = copy.copy(self.router)
            subset.routes = [self._routes[n] for n in chosen]
        return subset

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.router.app(scope, receive, send)
            return
        if len(self.router.routes) != len(self._routes):  # a route added since (tests, plugins)
            self._build()
        scope.setdefault("router", self.router)  # `url_for` and the like see every route
        await self._router_for(self.shape(get_route_path(scope))).app(scope, receive, send)


def install(router: APIRouter) -> Any:
    """Puts the index in front of the router's routing loop, unless the router has middleware of its own."""
    if router.middleware_stack == router.app:
        router.middleware_stack = RouteIndex(router)
    return router.middleware_stack
