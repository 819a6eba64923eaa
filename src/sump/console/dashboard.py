"""The console's home: the tenant, how much it holds, and what happened lately."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sump.audit import policy as audit_policy
from sump.audit import service as audit_log
from sump.audit.service import Filters
from sump.console.activity import actor_names
from sump.console.web import Actor, render
from sump.kit.transactions import DbSession
from sump.tenants import service as tenants

router = APIRouter()
RECENT_EVENTS = 10


@router.get("/")
async def dashboard(request: Request, actor: Actor, db: DbSession) -> Response:
    overview = await tenants.overview(db, actor)
    events = []
    if audit_policy.read_tenant_log(actor) is None:
        events = await audit_log.tenant_page(db, actor, Filters(), None, RECENT_EVENTS)
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
