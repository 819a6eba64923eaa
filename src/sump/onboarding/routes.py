"""`POST /tenants`: a new tenant with its owner, signed in."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from sump.access.cookies import set_session_cookie
from sump.kit.deps import CallDep
from sump.kit.errors import problem_responses
from sump.kit.ratelimit import hit_per_ip
from sump.onboarding import service
from sump.onboarding.schemas import NewTenantSession, TenantCreate, TenantCreated

router = APIRouter(prefix="/tenants", tags=["tenants"], responses=problem_responses(400))


async def _limit(request: Request) -> None:
    await hit_per_ip(request, "tenant-create", service.CREATE_PER_IP)


@router.post(
    "",
    status_code=201,
    response_model=TenantCreated,
    dependencies=[Depends(_limit)],
    responses=problem_responses(403, 409, 413, 429, 503),
)
async def create_tenant(body: TenantCreate, response: Response, call: CallDep) -> TenantCreated:
    """Creates the tenant, its owner, a first environment (`default` unless named) and the owner's session; 403
    `tenant_signup_closed` while the operator keeps tenant creation to `sump tenants create`."""
    created = await service.create(call, body)
    set_session_cookie(response, call.settings, created.session.token)
    session = created.session.session
    return TenantCreated(
        tenant_id=created.tenant.id,
        account_id=created.owner.id,
        environment_id=created.environment.id,
        session=NewTenantSession(
            id=session.id,
            account_type=session.account_type.value,
            account_id=session.account_id,
            context_type="tenant",
            context_id=session.tenant_id,
            expires_at=session.expires_at,
        ),
        token=created.session.token,
    )
