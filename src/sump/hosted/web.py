"""What every hosted page shares: the environment of the path and its branding, the end user's hosted session,
CSRF-checked forms, the page's security headers and the HTML error page.

The hosted pages live under their environment's issuer (`/api/v1/environments/{environmentId}/hosted/…`). Their
session is the `sump_hosted` cookie, limited to the issuer's path (`access.cookies`); their CSRF cookie is
limited to the hosted pages' path and bound to that session and to the environment (`kit.forms`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import ImmutableMultiDict

from sump.access.actors import end_user_of
from sump.access.cookies import hosted_token
from sump.access.dependencies import credentials
from sump.config import Settings
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import Session
from sump.environments import service as environments
from sump.hosted.branding import Brand, brand_of
from sump.kit import forms
from sump.kit.errors import Problem, not_found
from sump.kit.transactions import DbSession

CSRF_COOKIE = "sump_hosted_csrf"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def base_path(environment_id: uuid.UUID) -> str:
    """Where an environment's hosted pages live."""
    return f"/api/v1/environments/{environment_id}/hosted"


def environment_id_of(request: Request) -> uuid.UUID | None:
    """The environment id of the path the hosted pages are mounted under; None when it is not a UUID."""
    try:
        return uuid.UUID(str(request.path_params.get("environment_id", "")))
    except ValueError:
        return None


async def _environment(request: Request, db: DbSession) -> Environment:
    environment_id = environment_id_of(request)
    if environment_id is None:
        raise not_found("environment")
    return await environments.named(db, environment_id)


EnvironmentDep = Annotated[Environment, Depends(_environment)]
# A waiting authorization request's token, in a page's query string.
RequestToken = Annotated[str | None, Query(alias="request")]


# ---------------------------------------------------------------------------------------------------- CSRF


def _purpose(environment_id: uuid.UUID) -> str:
    return f"hosted-csrf|{environment_id}"


def csrf_token(request: Request, settings: Settings, environment_id: uuid.UUID) -> str:
    session = hosted_token(request, settings)
    return forms.csrf_token(request, settings, _purpose(environment_id), CSRF_COOKIE, session)


async def read_form(request: Request, settings: Settings, environment_id: uuid.UUID) -> ImmutableMultiDict[str, str]:
    """The urlencoded body of a hosted form, after the origin and CSRF checks."""
    session = hosted_token(request, settings)
    return await forms.read_guarded_form(request, settings, _purpose(environment_id), CSRF_COOKIE, session)


# ------------------------------------------------------------------------------------------------ session


async def signed_in(
    request: Request, db: DbSession, settings: Settings, environment: Environment
) -> tuple[Session, EnvironmentAccount] | None:
    """The end user of this environment whose hosted session the browser sent, if it is live."""
    token = hosted_token(request, settings)
    found = await credentials(request).signed_in(db, token) if token else None
    if found is None or not isinstance(found[1], EnvironmentAccount) or not end_user_of(found[1], environment.id):
        return None
    return found[0], found[1]


# --------------------------------------------------------------------------------------------- responses


def content_security_policy(brand: Brand, *, to_client: bool = False) -> str:
    """The console's policy, with the logo's origin among the images' sources.

    `form-action 'self'` also holds for the redirects that follow a form, and Chromium applies it to them: a page
    whose form ends at an application's redirect URI (an authorization request is waiting: sign-in, second
    factor, enrolment, sign-up, consent) leaves form-action out, since those URIs are any origin or a native
    app's own scheme. Its forms still post to Sump only: their actions are fixed paths of the page's own."""
    images = " ".join(["'self'", "data:", *([brand.logo_origin] if brand.logo_origin else [])])
    forms = "" if to_client else "; form-action 'self'"
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; connect-src 'self'; "
        f"frame-ancestors 'none'; base-uri 'none'{forms}"
    )


def finish(
    request: Request,
    response: Response,
    settings: Settings,
    environment_id: uuid.UUID,
    brand: Brand,
    *,
    to_client: bool = False,
) -> Response:
    """The hosted pages' own headers, and the CSRF cookie a form of this response needs."""
    response.headers["Content-Security-Policy"] = content_security_policy(brand, to_client=to_client)
    csrf_cookie = forms.new_csrf_cookie(request)
    if csrf_cookie:
        response.set_cookie(
            CSRF_COOKIE,
            csrf_cookie,
            path=base_path(environment_id) + "/",
            httponly=True,
            secure=settings.secure_cookies,
            samesite="lax",  # the first page of a sign-in is often reached from the application's site
        )
    return response


def render(
    request: Request, environment: Environment, template: str, status_code: int = 200, **context: Any
) -> Response:
    settings: Settings = request.app.state.settings
    brand = brand_of(environment)
    context.update(
        brand=brand,
        base=base_path(environment.id),
        environment_id=environment.id,
        csrf=csrf_token(request, settings, environment.id),
        errors=context.get("errors") or {},
        values=context.get("values") or {},
    )
    context["referrer"] = forms.page_referrer(context["values"])
    pool = environments.pool(environment)
    context.setdefault("sign_up", pool.signup_enabled)
    context.setdefault("passkeys", pool.passkey_rp_id is not None)
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    to_client = bool(context["values"].get("request"))  # the page's forms may end at the application
    return finish(request, response, settings, environment.id, brand, to_client=to_client)


def redirect(request: Request, environment: Environment, location: str) -> Response:
    """303 to `location`: a path of Sump's own, never one taken from the request."""
    settings: Settings = request.app.state.settings
    return finish(request, RedirectResponse(location, status_code=303), settings, environment.id, brand_of(environment))


def with_retry_after(response: Response, problem: Problem) -> Response:
    """A refusal's page keeps the `Retry-After` of a limit or lockout."""
    if "Retry-After" in problem.headers:
        response.headers["Retry-After"] = problem.headers["Retry-After"]
    return response


def request_field(values: ImmutableMultiDict[str, str] | dict[str, str], name: str = "request") -> str:
    """A pending authorization request's token as a page carries it (query or hidden field), trimmed and bounded;
    empty when there is none."""
    value = values.get(name, "") or ""
    return value.strip()[:256]
