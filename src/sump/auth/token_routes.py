"""The token endpoint of each environment, revocation, introspection and `me`.

The token endpoint takes two kinds of body. JSON (camelCase) carries Sump's first-party grants (password,
session, mfa, refresh; `sump.auth.grants`), as it always has. An `application/x-www-form-urlencoded` body is an
OAuth 2.0 request (RFC 6749 §4.1.3, §6) of an authenticated client (`sump.auth.client_grants`), answered in
the RFC's own words (snake_case, `Cache-Control: no-store`, errors with `error` and `error_description`)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from sump.access.cookies import session_token
from sump.access.dependencies import EnvironmentId, SignedInDep
from sump.auth import client_grants, grants
from sump.auth.oauth_http import (
    REFUSED,
    client_credentials,
    conform,
    is_form,
    json_per_ip,
    oauth_error_responses,
    oauth_json,
    read_form,
    refused,
)
from sump.auth.schemas import (
    INTROSPECTION_BODY,
    REVOCATION_BODY,
    TOKEN_BODY,
    Introspection,
    IntrospectionForm,
    MfaRequired,
    OAuthTokenResponse,
    RevocationForm,
    TokenRequest,
)
from sump.db.tables.environments import Environment
from sump.environments import service as environments
from sump.kit.call import Call
from sump.kit.deps import CallDep, SettingsDep
from sump.kit.errors import PROBLEM_JSON, Problem, problem_response, problem_responses
from sump.kit.transactions import DbSession
from sump.tokens import service as tokens
from sump.tokens.schemas import Me, RevokeRequest, Tokens

router = APIRouter(tags=["tokens"], responses=problem_responses(400, 401, 404))


async def environment_of(environment_id: EnvironmentId, db: DbSession) -> Environment:
    return await environments.named(db, environment_id)


async def _json(request: Request, model: type[Any]) -> Any:
    """The JSON body as `model`, refused as the framework refuses a body it parses itself."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]) from None


async def _oauth_token(request: Request, call: Call, environment: Environment) -> Response:
    try:
        await REFUSED.check(request)
        form = await read_form(request)
        issued = await client_grants.grant(call, environment, client_credentials(request, form), form)
    except Problem as problem:
        await call.roll_back()
        return await refused(problem, request)
    if isinstance(issued, Problem):  # a replay: what it revoked commits with this answer
        return await refused(issued, request)
    body: dict[str, Any] = {"access_token": issued.access_token, "token_type": "Bearer"}
    body["expires_in"] = issued.expires_in
    optional = {"refresh_token": issued.refresh_token, "id_token": issued.id_token, "scope": issued.scope}
    return oauth_json(body | {name: value for name, value in optional.items() if value is not None})


@router.post(
    "/auth/environments/{environmentId}/token",
    response_model=Tokens | OAuthTokenResponse,
    dependencies=[Depends(json_per_ip("environment-token", "60/minute"))],
    openapi_extra=TOKEN_BODY,
    responses={
        **oauth_error_responses(400, 401, 429, 503),
        **problem_responses(415),
        403: {
            "content": {PROBLEM_JSON: {"schema": MfaRequired.model_json_schema(by_alias=True)}},
            "description": "`mfa_required`: the password grant's account must give a second factor (or enrol one).",
        },
    },
)
async def token(
    request: Request, call: CallDep, found: SignedInDep, environment: Environment = Depends(environment_of)
) -> Tokens | Response:
    """Issues an access token (15 minutes by default) and a refresh token that rotates on every use.

    **JSON** (Sump's grants): the password grant is a sign-in: it shares the per-address budget and the lockout
    of `/login`. For an account with a second factor it answers 403 `mfa_required` with a `challenge`; the grant
    `urn:sump:params:oauth:grant-type:mfa` with that `challenge` and a `code` then issues the tokens.

    **Form** (OAuth 2.0 clients): `authorization_code` (with `redirect_uri` and the PKCE `code_verifier`),
    `refresh_token`, and `client_credentials` for machine clients (an access token for their audience), the
    client authenticated by `client_secret_basic` or `client_secret_post` (a public client sends its
    `client_id` alone). The answer is RFC 6749's (`access_token`, `token_type`, `expires_in`,
    `refresh_token`, `id_token`, `scope`); errors carry `error` and `error_description` (401 `invalid_client`
    with `WWW-Authenticate`). A replayed code revokes the tokens it issued and ends the sign-in it came from."""
    if is_form(request):
        return await _oauth_token(request, call, environment)
    body = await _json(request, TokenRequest)
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


@router.post(
    "/auth/environments/{environmentId}/token/revoke",
    status_code=200,
    response_model=dict[str, bool],
    openapi_extra=REVOCATION_BODY,
    responses={**oauth_error_responses(400, 401, 429), **problem_responses(415)},
)
async def revoke_token(
    request: Request, call: CallDep, environment: Environment = Depends(environment_of)
) -> dict[str, bool] | Response:
    """Revokes the refresh token's whole chain. Unknown tokens are not an error (RFC 7009).

    JSON: `refreshToken`, a token of Sump's first-party grants. Form (RFC 7009): `token` and an optional
    `token_type_hint`; a token issued to a client is revoked only by that client, authenticated as at the token
    endpoint. Access tokens are short-lived and are not revoked one by one."""
    if not is_form(request):
        body = await _json(request, RevokeRequest)
        await tokens.revoke(call.db, environment, body.refresh_token)
        return {"revoked": True}
    try:
        await REFUSED.check(request)
        form = await read_form(request)
        if not form.get("token"):
            raise client_grants.invalid_request("The token is required.")
        conform(form, RevocationForm)
        await client_grants.revoke(call, environment, client_credentials(request, form), form["token"])
    except Problem as problem:
        await call.roll_back()
        return await refused(problem, request)
    return oauth_json({"revoked": True})


@router.post(
    "/auth/environments/{environmentId}/token/introspect",
    response_model=Introspection,
    openapi_extra=INTROSPECTION_BODY,
    responses={**oauth_error_responses(400, 401, 429), **problem_responses(415)},
)
async def introspect_token(
    request: Request, call: CallDep, environment: Environment = Depends(environment_of)
) -> Response:
    """RFC 7662, for the environment's confidential clients (authenticated as at the token endpoint): `active`
    and the claims of a live access or refresh token of this environment, else `{"active": false}`."""
    try:
        await REFUSED.check(request)
        form = await read_form(request) if is_form(request) else {}
        given = client_credentials(request, form)
        if given is None:
            raise client_grants.invalid_client(basic=True)
        if not form.get("token"):
            raise client_grants.invalid_request("The token is required.")
        conform(form, IntrospectionForm)
        answer = await client_grants.introspect(call, environment, given, form["token"])
    except Problem as problem:
        await call.roll_back()
        return await refused(problem, request)
    return oauth_json(answer)


@router.get("/auth/environments/{environmentId}/me", response_model=Me)
async def me(
    request: Request, db: DbSession, settings: SettingsDep, environment: Environment = Depends(environment_of)
) -> Me:
    """The caller of an access token (or session) of this environment, with organization, roles, permissions.
    An access token issued to an OAuth client is refused here: it reads the end user through userinfo, within
    the scopes granted."""
    token = session_token(request, settings)
    caller = await request.app.state.credentials.caller(db, environment, token) if token else None
    if caller is None or "client_id" in caller.claims:  # a client's token reads userinfo, by its scopes
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
