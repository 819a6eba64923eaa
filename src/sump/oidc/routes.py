"""The OpenID Provider's browser and resource endpoints under each environment's issuer: authorization (and
its continuation after the hosted pages), userinfo, end-session and discovery. Thin: the flow is
`sump.oidc.flow`, the rest their own modules."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from sump.access.cookies import clear_hosted_cookie, hosted_token
from sump.access.dependencies import EnvironmentId
from sump.db.tables.environments import Environment
from sump.environments import service as environments
from sump.kit.deps import CallDep, SettingsDep
from sump.kit.errors import Problem, problem_responses
from sump.kit.ratelimit import per_ip
from sump.kit.transactions import DbSession
from sump.oidc import discovery as metadata
from sump.oidc import flow, logout, userinfo
from sump.oidc.schemas import (
    AUTHORIZE_FORM,
    AUTHORIZE_PARAMETERS,
    END_SESSION_FORM,
    END_SESSION_PARAMETERS,
    MAX_VALUE,
    USERINFO_FORM,
    Discovery,
    UserInfo,
)

router = APIRouter(tags=["openid"], responses=problem_responses(400, 404))
FOUND = 302
SEE_OTHER = 303
NO_STORE = {"Cache-Control": "no-store"}


async def environment_of(environment_id: EnvironmentId, db: DbSession) -> Environment:
    return await environments.named(db, environment_id)


def _redirect(url: str, status: int = FOUND) -> RedirectResponse:
    return RedirectResponse(url, status_code=status, headers=NO_STORE)


@router.get(
    "/environments/{environmentId}/authorize",
    status_code=FOUND,
    response_class=RedirectResponse,
    openapi_extra={"parameters": AUTHORIZE_PARAMETERS},
    dependencies=[Depends(per_ip("oidc-authorize", "120/minute"))],
    responses={FOUND: {"description": "To the hosted sign-in or consent page, or back to the client."}},
)
async def authorize(
    request: Request, call: CallDep, environment: Environment = Depends(environment_of)
) -> RedirectResponse:
    """The authorization endpoint (authorization code with PKCE S256; OpenID Connect's `nonce`, `prompt`,
    `max_age`, `login_hint`). An unknown client, or a `redirect_uri` not registered for it, answers 400 and never
    redirects; other errors go back to the `redirect_uri` with `error`, `error_description`, `state` and `iss`."""
    token = hosted_token(request, call.settings)
    return _redirect(await flow.authorize(call, environment, request.query_params.multi_items(), token))


@router.post(
    "/environments/{environmentId}/authorize",
    status_code=SEE_OTHER,
    response_class=RedirectResponse,
    openapi_extra=AUTHORIZE_FORM,
    # A budget of its own: the GET it is answered with counts against the GET's, once.
    dependencies=[Depends(per_ip("oidc-authorize-posted", "120/minute"))],
    responses={**problem_responses(415), SEE_OTHER: {"description": "To the same request by GET."}},
)
async def authorize_post(request: Request, environment: Environment = Depends(environment_of)) -> RedirectResponse:
    """The authorization request with its parameters in a form (OpenID Connect Core §3.1.2.1): answered by the
    same request by GET, which a browser follows as a top-level navigation, so the hosted session's SameSite
    cookie, which a cross-site POST does not carry, is sent and read there."""
    pairs = await _form_pairs(request)
    if any(len(value) > MAX_VALUE for _, value in pairs):
        raise Problem(400, "parameter_too_long", f"A parameter is longer than {MAX_VALUE} characters.")
    query = urlencode(pairs)
    if len(query) > MAX_QUERY:  # what a redirect's Location, and the GET it makes, can carry
        raise Problem(400, "request_too_long", f"The parameters take more than {MAX_QUERY} characters in a URL.")
    return _redirect(f"authorize?{query}" if query else "authorize", SEE_OTHER)  # relative: behind any prefix


@router.get(
    "/environments/{environmentId}/authorize/continue",
    status_code=FOUND,
    response_class=RedirectResponse,
    responses={FOUND: {"description": "The next hosted page, or back to the client."}},
)
async def authorize_continue(
    request: Request,
    call: CallDep,
    request_token: str = Query(alias="request", min_length=1, max_length=256),
    environment: Environment = Depends(environment_of),
) -> RedirectResponse:
    """Where the hosted pages send the browser after each step: checks the hosted session (and `max_age`,
    `prompt=login`), consent, then issues the code. 400 for a request that expired or was finished."""
    token = hosted_token(request, call.settings)
    return _redirect(await flow.resume(call, environment, request_token, token))


FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 50
MAX_QUERY = 7168  # with the path, within the 8 KiB request line that proxies allow by default


async def _form_pairs(request: Request) -> list[tuple[str, str]]:
    """A urlencoded body's parameters in order, repeated ones kept; nothing for any other body."""
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != FORM_TYPE:
        return []
    try:
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "malformed_form", "The form could not be read.") from None
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        raise Problem(400, "nul_character", "The request contains a NUL character.")
    return pairs


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded body's parameters (the first of a repeated one)."""
    form: dict[str, str] = {}
    for key, value in await _form_pairs(request):
        form.setdefault(key, value)
    return form


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


@router.get("/environments/{environmentId}/userinfo", response_model=UserInfo, responses=problem_responses(401, 403))
async def userinfo_get(
    request: Request, db: DbSession, settings: SettingsDep, environment: Environment = Depends(environment_of)
) -> dict[str, Any]:
    """The end user's claims by the scopes granted (`openid` required), for a bearer access token of this
    environment issued to a client. Refusals carry `WWW-Authenticate` (RFC 6750)."""
    return await userinfo.claims(db, settings, environment, _bearer(request))


@router.post(
    "/environments/{environmentId}/userinfo",
    response_model=UserInfo,
    openapi_extra=USERINFO_FORM,
    responses=problem_responses(401, 403, 415),
)
async def userinfo_post(
    request: Request, db: DbSession, settings: SettingsDep, environment: Environment = Depends(environment_of)
) -> dict[str, Any]:
    """As GET; the access token may also come as the form's `access_token` (RFC 6750 §2.2)."""
    token = _bearer(request) or (await _form(request)).get("access_token")
    return await userinfo.claims(db, settings, environment, token)


async def _end_session(
    request: Request, call: CallDep, environment: Environment, parameters: dict[str, str]
) -> Response:
    try:
        done = await logout.end_session(call, environment, parameters, hosted_token(request, call.settings))
    except Problem:
        await call.roll_back()
        raise
    response = _redirect(done.target, SEE_OTHER)
    if done.clears_cookie:
        clear_hosted_cookie(response, call.settings, environment.id)
    return response


@router.get(
    "/environments/{environmentId}/end-session",
    status_code=SEE_OTHER,
    response_class=RedirectResponse,
    openapi_extra={"parameters": END_SESSION_PARAMETERS},
    responses={SEE_OTHER: {"description": "To the registered post-logout URI, or the hosted signed-out page."}},
)
async def end_session_get(
    request: Request, call: CallDep, environment: Environment = Depends(environment_of)
) -> Response:
    """RP-initiated logout: `id_token_hint` (required; expired ones too), `client_id`,
    `post_logout_redirect_uri` (registered for that client, else 400), `state`. Ends the sign-in the hint names
    and its refresh tokens, and the browser's hosted session (and its cookie) when it is the same end user's."""
    return await _end_session(request, call, environment, dict(request.query_params))


@router.post(
    "/environments/{environmentId}/end-session",
    status_code=SEE_OTHER,
    response_class=RedirectResponse,
    openapi_extra=END_SESSION_FORM,
    responses={**problem_responses(415), SEE_OTHER: {"description": "As GET."}},
)
async def end_session_post(
    request: Request, call: CallDep, environment: Environment = Depends(environment_of)
) -> Response:
    """As GET, with the parameters in a form."""
    return await _end_session(request, call, environment, await _form(request))


@router.get("/environments/{environmentId}/.well-known/openid-configuration", response_model=Discovery)
async def discovery(
    response: Response, settings: SettingsDep, environment: Environment = Depends(environment_of)
) -> dict[str, Any]:
    """The issuer's metadata: what it implements, and where."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return metadata.document(settings, environment.id)
