"""Reading the session token from a request and writing the `sump_session` cookie.

`token_of` is the one rule (bearer first, else the signed cookie): the framework's routes read it through
`session_token`, the pure-ASGI session check (`sump.hot_paths`) from the raw headers."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from fastapi import Request, Response
from starlette.requests import cookie_parser

from sump.config import Settings
from sump.kit.crypto import sign_cookie, unsign_cookie

COOKIE_NAME = "sump_session"


def token_of(
    authorization: str | None, cookie_headers: Iterable[str], secret: str, previous: Sequence[str] = ()
) -> str | None:
    """`Authorization: Bearer <token>` (the first such header) wins; otherwise the signed cookie, read from every
    `Cookie` header as Starlette reads them (a later one wins). A bad signature counts as no token; one made by a
    previous secret (`previous`) is accepted, and the cookie is not re-signed: it ends with its session, within
    SUMP_SESSION_ABSOLUTE_TTL, which is how long a previous secret stays listed."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    cookie = None
    for header in cookie_headers:
        cookie = cookie_parser(header).get(COOKIE_NAME, cookie)
    return unsign_cookie(secret, cookie, previous) if cookie else None


def session_token(request: Request, settings: Settings) -> str | None:
    """`Authorization: Bearer <token>` wins; otherwise the signed cookie. A bad signature counts as no token."""
    headers = request.headers
    return token_of(
        headers.get("authorization"), headers.getlist("cookie"), settings.secret_key, settings.previous_secret_keys
    )


def cookie_token(request: Request, settings: Settings) -> str | None:
    """The token of the signed `sump_session` cookie only (what a browser sends by itself)."""
    cookie = request.cookies.get(COOKIE_NAME)
    return unsign_cookie(settings.secret_key, cookie, settings.previous_secret_keys) if cookie else None


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        sign_cookie(settings.secret_key, token),
        max_age=settings.session_absolute_ttl,
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, secure=settings.secure_cookies, samesite="lax")


# The hosted sign-in pages of an environment (its OpenID issuer) keep their end user's session in a cookie of
# their own, limited to the issuer's path: it never meets the console's `sump_session` of a tenant account signed
# in on the same browser, nor the hosted session of another environment.
HOSTED_COOKIE_NAME = "sump_hosted"


def hosted_path(environment_id: uuid.UUID) -> str:
    return f"/api/v1/environments/{environment_id}/"


def hosted_token(request: Request, settings: Settings) -> str | None:
    """The token of the hosted session cookie that the browser sent for this environment's path (a bad
    signature counts as no token)."""
    cookie = request.cookies.get(HOSTED_COOKIE_NAME)
    return unsign_cookie(settings.secret_key, cookie, settings.previous_secret_keys) if cookie else None


def set_hosted_cookie(response: Response, settings: Settings, environment_id: uuid.UUID, token: str) -> None:
    response.set_cookie(
        HOSTED_COOKIE_NAME,
        sign_cookie(settings.secret_key, token),
        max_age=settings.session_absolute_ttl,
        path=hosted_path(environment_id),
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )


def clear_hosted_cookie(response: Response, settings: Settings, environment_id: uuid.UUID) -> None:
    path = hosted_path(environment_id)
    response.delete_cookie(HOSTED_COOKIE_NAME, path=path, httponly=True, secure=settings.secure_cookies, samesite="lax")
