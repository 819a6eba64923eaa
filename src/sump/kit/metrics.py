"""Prometheus metrics, served at `GET /metrics` to the holder of `SUMP_METRICS_TOKEN` only.

What is counted: requests by method, route template and status, with their latency (`RequestMetrics`, in the
edge middleware, only while /metrics is served); password sign-ins by outcome (`counts_sign_ins`); the hashing
pool's places held and the wait of each hash (`kit.passwords`); the outbox's deliveries, failures and backlog;
database connections in use (`watch_pool`); the age of the oldest active signing key. The backlog and the key
age are read from the database when a scrape comes (`refresh`), so they cost nothing between scrapes.

Several workers, one scrape. `sump serve --workers N` gives each run a directory of its own, empty, named by
`PROMETHEUS_MULTIPROC_DIR` before any metric is made (`serving.metrics_directory`, `of()`): prometheus-client
then keeps every value in a small memory-mapped file per process there, and the worker that answers a scrape
adds up the files of all of them (`MultiProcessCollector`). Counters and histograms of a worker that died stay
in the sum, so totals never go back; the supervisor removes its gauge files (`mark_process_dead`), so gauges of
places held or connections in use count live workers only. The directory is removed when the server stops.
With one process, values live in memory and the default registry is served (with the process's own figures).
"""

from __future__ import annotations

import functools
import hmac
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Mount
from starlette.types import Scope

from sump.kit.errors import Problem

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own name for it
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # a path no route answers: its text never becomes a label
# A sign-in refused by a problem of these codes, by outcome; any other refusal is not a sign-in outcome.
_REFUSED = {"overloaded": "refused_load", "rate_limited": "rate_limited"}


class Metrics:
    """Every metric of Sump. Made on first use (`of()`), in the process that records them, and prometheus-client
    imported only then: it chooses where values live (memory, or the files of the multi-process directory) when it
    is first imported, and `sump serve` names that directory after the command has imported the application."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter("sump_http_requests", "HTTP requests answered", ["method", "route", "status"])
        self.latency = Histogram(
            "sump_http_request_duration_seconds",
            "Time to answer a request",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
        )
        self.sign_ins = Counter("sump_sign_ins", "Password sign-ins by outcome", ["outcome"])
        self.hashing_places = Gauge(
            "sump_hashing_queue_depth",
            "Requests holding a place in the hashing pool, running or waiting",
            multiprocess_mode="livesum",
        )
        self.hashing_wait = Histogram(
            "sump_hashing_wait_seconds", "Time a hash waited for a hashing thread", buckets=WAIT_BUCKETS
        )
        self.outbox_sent = Counter("sump_outbox_sent", "Outbox messages accepted by the mail server")
        self.outbox_failures = Counter(
            "sump_outbox_delivery_failures", "Failed outbox deliveries: retried later, or abandoned", ["outcome"]
        )
        self.outbox_backlog = Gauge(
            "sump_outbox_backlog",
            "Outbox messages queued or being delivered (read at scrape)",
            multiprocess_mode="livemostrecent",
        )
        self.pool_in_use = Gauge(
            "sump_db_pool_connections_in_use",
            "Database connections checked out of the pool",
            multiprocess_mode="livesum",
        )
        self.key_age = Gauge(
            "sump_signing_key_age_seconds",
            "Since the oldest active signing key of any environment became active (read at scrape)",
            multiprocess_mode="livemostrecent",
        )


@functools.cache
def of() -> Metrics:
    return Metrics()


P = ParamSpec("P")


class FirstStep(Protocol):
    """What a sign-in's password step answers: the account it matched, or the lockout's refusal."""

    @property
    def account(self) -> object: ...

    @property
    def refusal(self) -> Problem | None: ...


S = TypeVar("S", bound=FirstStep)


def counts_sign_ins(step: Callable[P, Awaitable[S]]) -> Callable[P, Awaitable[S]]:
    """Counts each outcome of the password step of a sign-in: `success`, `wrong_password` (any wrong pair:
    unknown identifier, no password, disabled, wrong password, all answered alike), `locked` (the lockout held
    the source back), `refused_load` (the hashing pool is full) and `rate_limited` (the address's budget)."""

    @functools.wraps(step)
    async def counted(*args: P.args, **kwargs: P.kwargs) -> S:
        try:
            result = await step(*args, **kwargs)
        except Problem as problem:
            if problem.code in _REFUSED:
                of().sign_ins.labels(_REFUSED[problem.code]).inc()
            raise
        outcome = "success" if result.account is not None else "locked" if result.refusal else "wrong_password"
        of().sign_ins.labels(outcome).inc()
        return result

    return counted


def sign_in_refused_for_load() -> None:
    """A sign-in the pure-ASGI layer refused before the framework (the pool's own rule)."""
    of().sign_ins.labels("refused_load").inc()


class RouteTemplates:
    """The route template a request was answered by (`/api/v1/tenants/{tenantId}`), never its raw path: a path
    no route matched is `unmatched`, and a mounted application's routes are prefixed with the mount's template.
    Read from the scope once the framework has routed it (or a hot path has named it)."""

    def __init__(self, routes: Callable[[], Sequence[Any]]) -> None:
        self._routes = routes
        self._mounts: list[tuple[re.Pattern[str], str]] | None = None

    def of(self, scope: Scope) -> str:
        template = scope.get("sump.route")  # set by the pure-ASGI hot paths
        if template is not None:
            return str(template)
        # FastAPI keeps the whole template of the route it chose (its included routers' prefixes with it) in its
        # scope; a Starlette route's own path is whole already.
        chosen = scope.get("fastapi", {}).get("effective_route_context")
        path = getattr(chosen, "path_format", None) or getattr(scope.get("route"), "path", None)
        if not isinstance(path, str):
            return UNMATCHED
        root = scope.get("root_path", "")
        if not root:
            return path
        for pattern, prefix in self.mounts():
            if pattern.match(root + "/"):
                return prefix + path
        return UNMATCHED

    def mounts(self) -> list[tuple[re.Pattern[str], str]]:
        if self._mounts is None:
            self._mounts = [
                (route.path_regex, route.path_format.removesuffix("/{path}"))
                for route in self._routes()
                if isinstance(route, Mount)
            ]
        return self._mounts


class RequestMetrics:
    """Counts a request and its latency under its route template (`RouteTemplates`). The label sets seen are
    kept, so a request costs two dictionary look-ups and two writes."""

    def __init__(self, templates: RouteTemplates) -> None:
        self._templates = templates
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._metrics = of()

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        key = (method, self._templates.of(scope), status)
        children = self._children.get(key)
        if children is None:
            requests, latency = self._metrics.requests, self._metrics.latency
            children = self._children[key] = (requests.labels(method, key[1], str(status)), latency.labels(*key[:2]))
        children[0].inc()
        children[1].observe(seconds)


def watch_pool(engine: AsyncEngine) -> None:
    """Keeps `sump_db_pool_connections_in_use` with the engine's checkouts and returns."""
    in_use = of().pool_in_use
    event.listen(engine.sync_engine, "checkout", lambda *_: in_use.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: in_use.dec())


def authorized(authorization: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def render() -> tuple[bytes, str]:
    """The text exposition of every worker's metrics (see the module) and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    of()  # every metric is shown, those never recorded yet at zero
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
