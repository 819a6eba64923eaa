"""Reading the session token from a request and writing the `sump_session` cookie."""

from __future__ import annotations

from fastapi import Request, Response

from sump.config import Settings
from sump.kit.crypto import sign_cookie, unsign_cookie

COOKIE_NAME = "sump_session"


def session_token(request: Request, settings: Settings) -> str | None:
    """`Authorization: Bearer <token>` wins; otherwise the signed cookie. A bad signature counts as no token."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return cookie_token(request, settings)


def cookie_token(request: Request, settings: Settings) -> str | None:
    """The token of the signed `sump_session` cookie only (what a browser sends by itself)."""
    cookie = request.cookies.get(COOKIE_NAME)
    return unsign_cookie(settings.secret_key, cookie) if cookie else None


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
