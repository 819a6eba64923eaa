"""The console's home: the tenant, how much it holds, and what happened lately."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sump.audit import service as audit
from sump.audit.repository import Filters
from sump.console.activity import actor_names
from sump.console.web import Actor, render
from sump.db.deps import DbSession
from sump.tenant_accounts.models import TenantRole
from sump.tenants import service as tenants

router = APIRouter()
RECENT_EVENTS = 10


@router.get("/")
async def dashboard(request: Request, actor: Actor, db: DbSession) -> Response:
    overview = await tenants.overview(db, actor)
    events = []
    if actor.role.rank >= TenantRole.ADMIN.rank:  # the audit log is for admins and owners, as in the API
        events = await audit.page(db, tenant_id=actor.tenant_id, filters=Filters(), before=None, limit=RECENT_EVENTS)
    return render(
        request,
        "dashboard.html",
        actor=actor,
        section="dashboard",
        tenant=overview.tenant,
        counts=overview,
        events=events,
        names=await actor_names(db, actor, events),
    )
