"""ID tokens (OpenID Connect Core §2) and the claims released by scope, which userinfo answers too."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.tokens import service as tokens

ID_TOKEN_TYPE = "JWT"  # noqa: S105 (a media type)
# The claims each scope releases (OpenID Connect Core §5.4), as Sump holds them.
SCOPE_CLAIMS = {
    "profile": ("name", "preferred_username"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
}


def claims_by_scope(account: EnvironmentAccount, scope: list[str]) -> dict[str, Any]:
    """`sub`, and the end user's claims of the granted scopes (a phone number only when there is one)."""
    claims: dict[str, Any] = {"sub": str(account.id)}
    if "profile" in scope:
        claims["name"], claims["preferred_username"] = account.name, account.username
    if "email" in scope:
        claims["email"], claims["email_verified"] = account.email, account.email_verified
    if "phone" in scope and account.phone:
        claims["phone_number"], claims["phone_number_verified"] = account.phone, account.phone_verified
    return claims


async def issue(
    db: AsyncSession,
    settings: Settings,
    environment: Environment,
    account: EnvironmentAccount,
    *,
    client_id: str,
    session_id: uuid.UUID,
    scope: list[str],
    nonce: str | None,
    auth_time: datetime,
    amr: list[str] | None,
    algorithm: str,
) -> str:
    """An ID token for `client_id` (its `aud` and `azp`), signed with the environment's key of `algorithm`."""
    now = utcnow()
    claims: dict[str, Any] = {
        "iss": tokens.issuer(settings, environment.id),
        **claims_by_scope(account, scope),
        "aud": client_id,
        "azp": client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl)).timestamp()),
        "auth_time": int(auth_time.timestamp()),
        "sid": str(session_id),
    }
    if nonce:
        claims["nonce"] = nonce
    if amr:
        claims["amr"] = amr
    return await tokens.sign(db, settings, environment, claims, ID_TOKEN_TYPE, algorithm)
