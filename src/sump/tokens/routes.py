"""JWKS per environment, and key rotation by the tenant's admins. (The token endpoint and `me` are sign-in
routes: `sump.auth.token_routes`; discovery is the OpenID Provider's: `sump.oidc.routes`.)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from sump.access.actors import TenantActor
from sump.access.dependencies import EnvironmentId, allowed
from sump.db.tables.environments import Environment
from sump.environments import service as environments
from sump.kit.deps import SettingsDep
from sump.kit.errors import problem_responses
from sump.kit.transactions import DbSession
from sump.tokens import admin, policy, service
from sump.tokens.schemas import KeyRotated

router = APIRouter(tags=["tokens"], responses=problem_responses(400, 401, 404))
KeyAdmin = Annotated[TenantActor, allowed(policy.rotate_keys)]


async def environment_of(environment_id: EnvironmentId, db: DbSession) -> Environment:
    return await environments.named(db, environment_id)


@router.get("/environments/{environmentId}/.well-known/jwks.json")
async def jwks(
    response: Response, db: DbSession, settings: SettingsDep, environment: Environment = Depends(environment_of)
) -> dict[str, Any]:
    """Public keys that verify this environment's access tokens (next, active, and recently retired)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return await service.jwks(db, settings, environment.id)


@router.post(
    "/tenants/{tenantId}/environments/{environmentId}/keys/rotate",
    response_model=KeyRotated,
    responses=problem_responses(403, 429),
)
async def rotate_keys(
    environment_id: EnvironmentId, actor: KeyAdmin, db: DbSession, settings: SettingsDep
) -> KeyRotated:
    """Promotes the next signing key now; tokens signed before keep verifying until they expire."""
    key = await admin.rotate_now(db, settings, actor, environment_id)
    return KeyRotated(kid=key.kid)
