"""FastAPI dependencies. The app keeps its verifier at `app.state.sump`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request

from sump.sdk.verifier import JwksVerifier, Principal, TokenError


async def current_user(request: Request) -> Principal:
    """The caller of `Authorization: Bearer <access token>`, or 401."""
    verifier: JwksVerifier = request.app.state.sump
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "A bearer access token is required.", headers={"WWW-Authenticate": "Bearer"})
    try:
        return await verifier.verify(token.strip())
    except TokenError:
        raise HTTPException(
            401, "The access token is not valid.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from None


def require_permissions(*permissions: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through callers holding every one of `permissions` (else 403)."""
    needed = frozenset(permissions)

    async def dependency(user: Principal = Depends(current_user)) -> Principal:
        if not needed <= user.permissions:
            raise HTTPException(403, "Missing permission: " + ", ".join(sorted(needed - user.permissions)))
        return user

    return dependency
