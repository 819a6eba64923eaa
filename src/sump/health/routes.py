"""Health: the original's `/api/v1/health`, plus liveness and a readiness probe that checks the database."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import text

from sump.db.base import utcnow
from sump.kit.errors import problem_response, problem_responses
from sump.kit.schemas import ResponseModel

STARTED = time.monotonic()
api = APIRouter(tags=["health"])
probes = APIRouter(tags=["health"])


class Health(ResponseModel):
    status: str
    timestamp: datetime
    uptime: float


@api.get("/health", response_model=Health)
async def health() -> Health:
    return Health(status="ok", timestamp=utcnow(), uptime=time.monotonic() - STARTED)


@probes.get("/health/live", response_model=Health)
async def live() -> Health:
    """The process is up and serving."""
    return Health(status="ok", timestamp=utcnow(), uptime=time.monotonic() - STARTED)


@probes.get("/health/ready", response_model=Health, responses=problem_responses(503))
async def ready(request: Request) -> Health | Response:
    """Ready when the database answers within two seconds (and not while shutting down)."""
    if getattr(request.app.state, "draining", False):
        return problem_response(503, "shutting_down", "The service is shutting down.")
    try:
        async with asyncio.timeout(2):
            async with request.app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:
        return problem_response(503, "database_unavailable", "The database is not reachable.")
    return Health(status="ok", timestamp=utcnow(), uptime=time.monotonic() - STARTED)
