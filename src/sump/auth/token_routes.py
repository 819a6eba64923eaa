"""The token endpoint of each environment (its grants are sign-ins: `sump.auth.grants`), revocation, and `me`."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from sump.access.cookies import session_token
from sump.access.dependencies import EnvironmentId, SignedInDep
from sump.auth import grants
from sump.auth.schemas import MfaRequired, TokenRequest
from sump.db.tables.environments import Environment
from sump.environments import service as environments
from sump.kit.deps import CallDep, SettingsDep
from sump.kit.errors import PROBLEM_JSON, Problem, problem_response, problem_responses
from sump.kit.ratelimit import per_ip
from sump.kit.transactions import DbSession
from sump.tokens import service as tokens
from sump.tokens.schemas import Me, RevokeRequest, Tokens

router = APIRouter(tags=["tokens"], responses=problem_responses(400, 401, 404))


async def environment_of(environment_id: EnvironmentId, db: DbSession) -> Environment:
    return await environments.named(db, environment_id)


@router.post(
    "/auth/environments/{environmentId}/token",
    response_model=Tokens,
    dependencies=[Depends(per_ip("environment-token", "60/minute"))],
    responses={
        **problem_responses(429, 503),
        403: {
            "content": {PROBLEM_JSON: {"schema": MfaRequired.model_json_schema(by_alias=True)}},
            "description": "`mfa_required`: the password grant's account must give a second factor (or enrol one).",
        },
    },
)
async def token(
    body: TokenRequest, call: CallDep, found: SignedInDep, environment: Environment = Depends(environment_of)
) -> Tokens | Response:
    """Issues an access token (15 minutes by default) and a refresh token that rotates on every use. The
    password grant is a sign-in: it shares the per-address budget and the lockout of `/login`. For an account
    with a second factor it answers 403 `mfa_required` with a `challenge`; the grant
    `urn:sump:params:oauth:grant-type:mfa` with that `challenge` and a `code` then issues the tokens."""
    pair = await grants.grant(call, environment, body, found)
    if isinstance(pair, grants.MfaChallenge):
        challenge = pair.challenge
        detail = "A second factor is required: answer the challenge with the mfa grant."
        extra: dict[str, Any] = {"error": "mfa_required", "challenge": challenge.token, "factors": challenge.factors}
        extra |= {"enrol": challenge.enrol, "expiresIn": challenge.expires_in}
        return problem_response(403, "mfa_required", detail, extra=extra)
    if isinstance(pair, Problem):  # a replay: the family's revocation commits with this answer
        return problem_response(pair.status, pair.code, pair.detail)
    return Tokens(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.post("/auth/environments/{environmentId}/token/revoke", status_code=200, response_model=dict[str, bool])
async def revoke_token(
    body: RevokeRequest, db: DbSession, environment: Environment = Depends(environment_of)
) -> dict[str, bool]:
    """Revokes the refresh token's whole chain. Unknown tokens are not an error (RFC 7009)."""
    await tokens.revoke(db, environment, body.refresh_token)
    return {"revoked": True}


@router.get("/auth/environments/{environmentId}/me", response_model=Me)
async def me(
    request: Request, db: DbSession, settings: SettingsDep, environment: Environment = Depends(environment_of)
) -> Me:
    """The caller of an access token (or session) of this environment, with organization, roles, permissions."""
    token = session_token(request, settings)
    caller = await request.app.state.credentials.caller(db, environment, token) if token else None
    if caller is None:
        raise tokens.invalid_token()
    account, claims = caller.account, caller.claims
    org = claims.get("org_id")
    return Me(
        account_id=account.id,
        environment_id=environment.id,
        session_id=caller.session_id,
        name=account.name,
        email=account.email,
        username=account.username,
        organization_id=uuid.UUID(org) if org else None,
        roles=list(claims.get("roles", [])),
        permissions=list(claims.get("permissions", [])),
        amr=list(caller.amr) if caller.amr else None,
    )
