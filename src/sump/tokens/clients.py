"""What the OAuth endpoints need of tokens beyond the rotation (`sump.tokens.service`): the revocation a
replayed authorization code causes, introspection of refresh tokens (RFC 7662), and the check of an
`id_token_hint`."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import AccountType
from sump.kit.crypto import token_digest
from sump.sessions import service as sessions
from sump.tokens import keys, repository, service


async def revoke_issued_by_code(
    db: AsyncSession,
    environment_id: uuid.UUID,
    family_id: uuid.UUID | None,
    session_id: uuid.UUID,
    client_pk: uuid.UUID,
    account_id: uuid.UUID,
) -> None:
    """A replayed code: the family it issued, every refresh token of that session held by that client, and the
    session itself, so that the access tokens the code issued are refused too (as after a replayed refresh
    token)."""
    now = utcnow()
    if family_id is not None:
        await repository.revoke_family(db, family_id, now)
    await repository.revoke_for_client(db, environment_id, client_pk, now, session_id)
    await sessions.revoke_of_account(db, AccountType.ENVIRONMENT_ACCOUNT, account_id, session_id)


async def revoke_held_by(db: AsyncSession, environment_id: uuid.UUID, client_pk: uuid.UUID) -> None:
    """Every refresh token the client holds: its trust changed (first party or not), and its grants were made
    under the other (a third party's consent and `offline_access`, a first party's organization and roles)."""
    await repository.revoke_for_client(db, environment_id, client_pk, utcnow(), None)


async def introspect_refresh(
    db: AsyncSession, settings: Settings, environment: Environment, raw: str, client_pk: uuid.UUID
) -> dict[str, Any] | None:
    """RFC 7662 members of a live refresh token of this environment held by the client (its session live
    too), else None."""
    row = await repository.refresh_by_digest(db, environment.id, token_digest(raw))
    now = utcnow()
    if (
        row is None
        or row.client_pk != client_pk
        or row.revoked_at is not None
        or row.rotated_at is not None
        or row.expires_at <= now
    ):
        return None
    if not await sessions.is_live(db, settings, row.session_id):
        return None
    return {
        "active": True,
        "token_type": "refresh_token",
        "scope": row.scope,
        "sub": str(row.account_id),
        "sid": str(row.session_id),
        "exp": int(row.expires_at.timestamp()),
        "iat": int(row.created_at.timestamp()),
    }


async def verify_id_token_hint(
    db: AsyncSession, settings: Settings, environment: Environment, token: str
) -> dict[str, Any] | None:
    """The claims of an ID token this environment issued (signature with one of its keys, in that key's algorithm,
    its issuer), expired or not: OpenID Connect RP-Initiated Logout accepts an expired `id_token_hint`. None
    for anything else, another environment's token included."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "JWT" or not header.keys() <= service.TOKEN_HEADER:
            return None
        kid = keys.kid_of(header)
        key = None if kid is None else await repository.key_by_kid(db, environment.id, kid)
        if key is None:
            return None
        public_key = keys.verifying_key(key.public_jwk, key.algorithm)
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=[key.algorithm],
            issuer=service.issuer(settings, environment.id),
            options={"verify_exp": False, "verify_aud": False, "require": ["iss", "sub", "aud", "sid"]},
        )
    except jwt.PyJWTError:
        return None
    return claims
