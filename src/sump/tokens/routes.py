"""Token endpoint, JWKS and discovery per environment, `me`, and key rotation by the tenant's admins."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from sump.auth.cookies import session_token
from sump.auth.dependencies import EnvironmentId, SignedIn, TenantAdmin
from sump.db.deps import DbSession
from sump.environment_accounts import service as end_users
from sump.environment_accounts.models import EnvironmentAccount
from sump.environments import repository as environments
from sump.environments.models import Environment
from sump.kit.deps import CallDep, SettingsDep
from sump.kit.errors import Problem, not_found, problem_response, problem_responses
from sump.kit.ratelimit import per_ip
from sump.sessions import service as sessions
from sump.tokens import admin, grants, service
from sump.tokens.schemas import KeyRotated, Me, RevokeRequest, TokenRequest, Tokens

router = APIRouter(tags=["tokens"], responses=problem_responses(400, 401, 404))


async def environment_of(environment_id: EnvironmentId, db: DbSession) -> Environment:
    environment = await environments.get_by_id(db, environment_id)
    if environment is None:
        raise not_found("environment")
    return environment


@router.post(
    "/auth/environments/{environmentId}/token",
    response_model=Tokens,
    dependencies=[Depends(per_ip("environment-token", "60/minute"))],
    responses=problem_responses(429, 503),
)
async def token(
    body: TokenRequest, call: CallDep, found: SignedIn, environment: Environment = Depends(environment_of)
) -> Tokens | Response:
    """Issues an access token (15 minutes by default) and a refresh token that rotates on every use. The
    password grant is a sign-in: it shares the per-address budget and the lockout of `/login`."""
    pair = await grants.grant(call, environment, body, found)
    if isinstance(pair, Problem):  # a replay: the family's revocation commits with this answer
        return problem_response(pair.status, pair.code, pair.detail)
    return Tokens(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.post("/auth/environments/{environmentId}/token/revoke", status_code=200, response_model=dict[str, bool])
async def revoke_token(
    body: RevokeRequest, db: DbSession, environment: Environment = Depends(environment_of)
) -> dict[str, bool]:
    """Revokes the refresh token's whole chain. Unknown tokens are not an error (RFC 7009)."""
    await service.revoke(db, environment, body.refresh_token)
    return {"revoked": True}


@router.get("/auth/environments/{environmentId}/me", response_model=Me)
async def me(
    request: Request, db: DbSession, settings: SettingsDep, environment: Environment = Depends(environment_of)
) -> Me:
    """The caller of an access token (or session) of this environment, with organization, roles, permissions."""
    token = session_token(request, settings)
    if not token:
        raise service.invalid_token()
    claims: dict[str, Any] = {}
    if token.count(".") == 2:
        claims = await service.verify_access_token(db, settings, environment, token)
        account = await end_users.enabled(db, environment.id, uuid.UUID(claims["sub"]))
        session_id = uuid.UUID(claims["sid"])
        live = await sessions.is_live(db, settings, session_id)
    else:
        found = await sessions.resolve(db, settings, token)
        if found is None or not isinstance(found[1], EnvironmentAccount):
            raise service.invalid_token()
        account, session_id, live = found[1], found[0].id, True
    if account is None or not live or account.environment_id != environment.id:
        raise service.invalid_token()
    org = claims.get("org_id")
    return Me(
        account_id=account.id,
        environment_id=environment.id,
        session_id=session_id,
        name=account.name,
        email=account.email,
        username=account.username,
        organization_id=uuid.UUID(org) if org else None,
        roles=list(claims.get("roles", [])),
        permissions=list(claims.get("permissions", [])),
    )


@router.get("/environments/{environmentId}/.well-known/jwks.json")
async def jwks(
    response: Response, db: DbSession, settings: SettingsDep, environment: Environment = Depends(environment_of)
) -> dict[str, Any]:
    """Public keys that verify this environment's access tokens (next, active, and recently retired)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return await service.jwks(db, settings, environment.id)


@router.get("/environments/{environmentId}/.well-known/openid-configuration")
async def discovery(
    response: Response, settings: SettingsDep, environment: Environment = Depends(environment_of)
) -> dict[str, Any]:
    """Where this environment's issuer publishes its keys and takes token requests."""
    response.headers["Cache-Control"] = "public, max-age=300"
    base = f"{settings.public_url}/api/v1"
    return {
        "issuer": service.issuer(settings, environment.id),
        "jwks_uri": f"{base}/environments/{environment.id}/.well-known/jwks.json",
        "token_endpoint": f"{base}/auth/environments/{environment.id}/token",
        "revocation_endpoint": f"{base}/auth/environments/{environment.id}/token/revoke",
        "userinfo_endpoint": f"{base}/auth/environments/{environment.id}/me",
        "grant_types_supported": ["password", "session", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
        "response_types_supported": [],
    }


@router.post(
    "/tenants/{tenantId}/environments/{environmentId}/keys/rotate",
    response_model=KeyRotated,
    responses=problem_responses(403),
)
async def rotate_keys(
    environment_id: EnvironmentId, actor: TenantAdmin, db: DbSession, settings: SettingsDep
) -> KeyRotated:
    """Promotes the next signing key now; tokens signed before keep verifying until they expire."""
    key = await admin.rotate_now(db, settings, actor, environment_id)
    return KeyRotated(kid=key.kid)
