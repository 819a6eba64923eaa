"""Health: the original's `/api/v1/health`, plus liveness and a readiness probe that checks the database."""

from __future__ import annotations

import ast
import asyncio
import functools
import time
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import State

from sump.db.base import utcnow
from sump.kit.errors import (
    UPGRADE_HINT,
    database_not_migrated,
    problem_response,
    problem_responses,
    say_not_migrated,
)
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
    """Ready when the database answers within two seconds with the schema this version needs (and not while
    shutting down)."""
    if getattr(request.app.state, "draining", False):
        return problem_response(503, "shutting_down", "The service is shutting down.")
    state = request.app.state
    ready_at = getattr(state, "ready_at", None)
    if ready_at is None or time.monotonic() - ready_at >= READY_STANDS:
        try:
            behind = await _shared_check(state)
        except _Unreachable:
            return problem_response(503, "database_unavailable", "The database is not reachable.")
        if behind is not None:
            say_not_migrated(revision=behind)
            return problem_response(
                503, "database_not_migrated", f"The database has not been upgraded to this version: {UPGRADE_HINT}."
            )
        state.ready_at = time.monotonic()
    return Health(status="ok", timestamp=utcnow(), uptime=time.monotonic() - STARTED)


READY_STANDS = 1.0  # seconds a good answer of the database stands for the probes after it


class _Unreachable(Exception):
    pass


async def _shared_check(state: State) -> str | None:
    """`revisions_behind` the database, asked once for every probe that comes while the question is out. Probes
    are anonymous: a connection each would let anyone take the pool from the API."""
    check: asyncio.Future[str | None] | None = getattr(state, "ready_check", None)
    if check is None or check.done():
        check = state.ready_check = asyncio.ensure_future(_behind(state.engine))
    return await asyncio.shield(check)  # a probe that goes away leaves the check to the others


async def _behind(engine: AsyncEngine) -> str | None:
    try:
        async with asyncio.timeout(2):
            found = await schema_revisions(engine)
    except Exception as exc:
        raise _Unreachable from exc
    return await asyncio.to_thread(revisions_behind, found)


async def schema_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The migration revisions the database is at (none when never migrated); raises when it does not answer."""
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return frozenset(rows.scalars())
    except Exception as exc:
        if database_not_migrated(exc):
            return frozenset()
        raise


def revisions_behind(found: frozenset[str]) -> str | None:
    """None when `found` is this version's schema, or a newer one (which a rolling deploy meets); otherwise what
    the database is at ("none" when never migrated)."""
    heads, known = _revisions()
    if not found:
        return "none"
    if found & heads or not found <= known:
        return None
    return ",".join(sorted(found))


@functools.cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(heads, every revision) of the migrations this version ships; read once, when first needed, from the
    `revision` and `down_revision` assignments of the scripts themselves. Not through Alembic: loading it and
    every migration module cost a worker about 10 MiB for its first readiness probe."""
    versions = Path(__file__).resolve().parents[1] / "migrations" / "versions"
    known: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        for node in ast.parse(script.read_text()).body:
            if not isinstance(node, ast.Assign) or not isinstance(target := node.targets[0], ast.Name):
                continue
            if target.id not in ("revision", "down_revision"):
                continue
            value = ast.literal_eval(node.value)  # a string, None, or a tuple of strings (a merge)
            if target.id == "revision":
                known.add(value)
            elif value is not None:
                parents.update([value] if isinstance(value, str) else value)
    return frozenset(known - parents), frozenset(known)
