"""`GET /metrics` (Prometheus text, to the holder of `SUMP_METRICS_TOKEN`) and OpenTelemetry traces (when the
`OTEL_*` variables ask for them): what `kit.metrics` and `kit.tracing` measure, wired into one application."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException

from sump.config import Settings
from sump.db.base import utcnow
from sump.kit import metrics, tracing
from sump.tokens.rotation import oldest_active_key

log = structlog.get_logger("sump.metrics")


def install(app: FastAPI, settings: Settings) -> metrics.RequestMetrics | None:
    """Serves /metrics when a token is set and traces when asked; the request metrics for the edge middleware
    (None when /metrics is not served: then a request pays nothing for them)."""
    if tracing.wanted():
        app.state.tracer_provider = tracing.instrument(app)
    token = settings.metrics_token
    if not token:
        return None

    async def scrape(request: Request) -> Response:
        if not metrics.authorized(request.headers.get("authorization"), token):
            raise HTTPException(404)  # answered as any unknown path is
        await _read_database_gauges(app)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
    metrics.watch_pool(app.state.engine)
    return metrics.RequestMetrics(lambda: app.routes)


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
