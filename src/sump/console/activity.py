"""The tenant's audit log in the console: every event, newest first, filtered by action and environment, for
owners and admins (as `GET /api/v1/tenants/{id}/audit-events`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.audit import service as audit_log
from sump.audit.service import Filters
from sump.console.web import Actor, parse_id, render
from sump.db.tables.audit import AuditEvent
from sump.environments import service as environments
from sump.kit.transactions import DbSession
from sump.tenant_accounts import service as tenant_accounts

router = APIRouter()
PAGE_SIZE = 50
MAX_ENVIRONMENTS = 1000


async def actor_names(db: AsyncSession, actor: TenantActor, events: Sequence[AuditEvent]) -> dict[uuid.UUID, str]:
    """The names of the tenant accounts that acted in `events`, by id, for the event lists."""
    ids = {event.actor_id for event in events if event.actor_id and event.actor_type == "tenant_account"}
    return await tenant_accounts.names(db, actor, ids)


@router.get("/activity")
async def activity(
    request: Request,
    actor: Actor,
    db: DbSession,
    action: Annotated[str, Query(max_length=64)] = "",
    environment: Annotated[str, Query(max_length=36)] = "",
    before: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    action = action.strip()
    environment_id = parse_id(environment) if environment else None
    filters = Filters(action=action or None, environment_id=environment_id)
    events = await audit_log.tenant_page(db, actor, filters, before, PAGE_SIZE + 1)
    shown = events[:PAGE_SIZE]
    return render(
        request,
        "activity.html",
        actor=actor,
        section="activity",
        events=shown,
        older=shown[-1].id if len(events) > PAGE_SIZE else None,
        names=await actor_names(db, actor, shown),
        environments=await environments.page(db, actor, None, MAX_ENVIRONMENTS),
        values={"action": action, "environment": str(environment_id or "")},
        filtered=bool(action or environment_id),
    )
