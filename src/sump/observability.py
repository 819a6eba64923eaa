"""`GET /metrics` (Prometheus text, to the holder of `SUMP_METRICS_TOKEN`) and OpenTelemetry traces (when the
`OTEL_*` variables ask for them): what `kit.metrics` and `kit.tracing` measure, wired into one application."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sump.config import Settings
from sump.db.base import utcnow
from sump.kit import metrics, tracing
from sump.tokens.rotation import oldest_active_key

log = structlog.get_logger("sump.metrics")


def install(app: FastAPI, settings: Settings) -> metrics.RequestMetrics | None:
    """Serves /metrics when a token is set and traces when asked; the request metrics for the edge middleware
    (None when /metrics is not served: then a request pays nothing for them)."""
    if tracing.wanted():
        tracing.instrument(app)
    token = settings.metrics_token
    if not token:
        return None

    # An application, not an endpoint, so that its route takes every method: a method it did not take would be
    # answered 405 with `Allow: GET`, where an unknown path answers 404.
    app.router.routes.append(Route("/metrics", _Scrape(app, token), include_in_schema=False))
    metrics.watch_pool(app.state.engine)
    return metrics.RequestMetrics(metrics.RouteTemplates(lambda: app.routes))


class _Scrape:
    """`GET /metrics` to the holder of the token; anything else answered as any unknown path is (404)."""

    def __init__(self, app: FastAPI, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["sump.route"] = "/metrics"  # the label (`kit.metrics.RequestMetrics`): the framework names no route here
        if scope["method"] != "GET" or not metrics.authorized(Headers(scope=scope).get("authorization"), self.token):
            raise HTTPException(404)
        await _read_database_gauges(self.app)
        body, content_type = metrics.render()
        await Response(body, media_type=content_type)(scope, receive, send)


async def _read_database_gauges(app: FastAPI) -> None:
    """The outbox's backlog and the oldest active signing key's age; with the database away, the last values
    stay and the scrape is answered all the same (it is then that metrics are wanted)."""
    try:
        await app.state.outbox.measure_backlog()
        async with app.state.read_sessionmaker() as db:
            oldest = await oldest_active_key(db)
    except Exception as exc:
        log.warning("metrics_database_unavailable", error=type(exc).__name__)
        return
    metrics.of().key_age.set((utcnow() - oldest).total_seconds() if oldest is not None else 0)
