"""`GET /tenants/{tenantId}/audit-events` and `GET /environments/{environmentId}/audit-events`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from sump.access.actors import TenantActor
from sump.access.dependencies import EnvironmentActorDep, allowed
from sump.access.policy import require
from sump.audit import policy, service
from sump.audit.schemas import AuditEventView
from sump.audit.service import Filters
from sump.db.tables.sessions import AccountType
from sump.kit.errors import problem_responses
from sump.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, link_next
from sump.kit.schemas import UTC_NOTE, UtcDateTime
from sump.kit.transactions import DbSession
from sump.organizations import service as organizations

router = APIRouter(tags=["audit"], responses=problem_responses(400, 401, 403, 404))
Action = Annotated[str | None, Query(max_length=64, description="Exact action, like `login.failed`.")]
Since = Annotated[UtcDateTime | None, Query(description=f"Events at or after this time. {UTC_NOTE}")]
Until = Annotated[UtcDateTime | None, Query(description=f"Events before this time. {UTC_NOTE}")]
Reader = Annotated[TenantActor, allowed(policy.read_tenant_log)]


@router.get("/tenants/{tenantId}/audit-events", response_model=list[AuditEventView])
async def tenant_events(
    request: Request,
    response: Response,
    actor: Reader,
    db: DbSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    action: Action = None,
    actor_id: Annotated[uuid.UUID | None, Query(alias="actorId")] = None,
    target_id: Annotated[uuid.UUID | None, Query(alias="targetId")] = None,
    environment_id: Annotated[uuid.UUID | None, Query(alias="environmentId")] = None,
    organization_id: Annotated[uuid.UUID | None, Query(alias="organizationId")] = None,
    since: Since = None,
    until: Until = None,
) -> list[AuditEventView]:
    """The tenant's events, newest first (owners and admins). The next page is in the `Link` header."""
    filters = Filters(action, actor_id, target_id, environment_id, organization_id, since, until)
    events = await service.page(
        db, tenant_id=actor.tenant_id, filters=filters, before=decode_cursor(cursor), limit=limit
    )
    link_next(request, response, events, limit)
    return [AuditEventView.model_validate(event) for event in events]


@router.get("/environments/{environmentId}/audit-events", response_model=list[AuditEventView])
async def environment_events(
    request: Request,
    response: Response,
    actor: EnvironmentActorDep,
    db: DbSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    action: Action = None,
    actor_id: Annotated[uuid.UUID | None, Query(alias="actorId")] = None,
    target_id: Annotated[uuid.UUID | None, Query(alias="targetId")] = None,
    organization_id: Annotated[uuid.UUID | None, Query(alias="organizationId")] = None,
    since: Since = None,
    until: Until = None,
) -> list[AuditEventView]:
    """One environment's events, newest first: for the tenant's owners and admins, and for end users holding
    `audit:read` in the organization they name (they see that organization's events only, and the address and
    user agent of end users' events only: those of the tenant's staff and clients stay the tenant's)."""
    require(policy.read_environment_log(actor))
    await organizations.ensure_audit_reader(db, actor, organization_id)
    environment = actor.environment
    filters = Filters(action, actor_id, target_id, environment.id, organization_id, since, until)
    events = await service.page(
        db, tenant_id=environment.tenant_id, filters=filters, before=decode_cursor(cursor), limit=limit
    )
    link_next(request, response, events, limit)
    views = [AuditEventView.model_validate(event) for event in events]
    if actor.end_user is None:
        return views
    hidden = {"ip_address": None, "user_agent": None}
    return [
        view if view.actor_type == AccountType.ENVIRONMENT_ACCOUNT else view.model_copy(update=hidden) for view in views
    ]
