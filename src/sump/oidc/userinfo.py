"""OpenID Connect's userinfo: the claims of the granted scopes, for an access token of this environment issued
to a client with `openid`. Refusals follow RFC 6750 §3 (`WWW-Authenticate: Bearer error=…`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.config import Settings
from sump.db.tables.environments import Environment
from sump.environment_accounts import service as end_users
from sump.kit.errors import Problem
from sump.oidc.id_tokens import claims_by_scope
from sump.sessions import service as sessions
from sump.tokens import service as tokens


def no_token() -> Problem:
    return Problem(401, "unauthenticated", "An access token is required.", headers={"WWW-Authenticate": "Bearer"})


def bad_token() -> Problem:
    header = 'Bearer error="invalid_token", error_description="The access token is not valid."'
    return Problem(401, "invalid_token", "The access token is not valid.", headers={"WWW-Authenticate": header})


def not_openid() -> Problem:
    header = 'Bearer error="insufficient_scope", scope="openid"'
    detail = "The access token was not issued with the openid scope."
    return Problem(403, "insufficient_scope", detail, headers={"WWW-Authenticate": header})


async def claims(db: AsyncSession, settings: Settings, environment: Environment, token: str | None) -> dict[str, Any]:
    if not token:
        raise no_token()
    try:
        verified = await tokens.verify_access_token(db, settings, environment, token, userinfo=True)
    except Problem:
        raise bad_token() from None
    scope = str(verified.get("scope", "")).split()
    if "openid" not in scope or "client_id" not in verified:
        raise not_openid()
    account = await end_users.enabled(db, environment.id, uuid.UUID(verified["sub"]))
    if account is None or not await sessions.is_live(db, settings, uuid.UUID(verified["sid"])):
        raise bad_token()
    return claims_by_scope(account, scope)
