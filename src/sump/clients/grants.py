"""The client_credentials grant, for the two kinds of machine clients.

An environment's machine client gets an ES256 access token (`at+jwt`, RFC 9068) for the builder's own API:
signed with the environment's active key, `iss` the environment's issuer, `aud` the client's registered
audience, `sub` and `client_id` the client's public id, its permissions (all of them, or the ones `scope`
asks), no refresh token.

A tenant's automation client gets an opaque bearer token for Sump's admin API of that tenant: random, stored as
its SHA-256, bound to the secret it was obtained with, valid at most 15 minutes (the access-token lifetime), so
deleting the client or ending that secret (a rotation without overlap) ends it at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import ClientActor
from sump.clients import repository, service
from sump.db.base import utcnow
from sump.db.tables.clients import Client, ClientKind, ClientPurpose, ClientToken
from sump.db.tables.environments import Environment
from sump.kit import audit
from sump.kit.audit import Ref
from sump.kit.call import Call
from sump.kit.crypto import new_token, token_digest
from sump.kit.errors import Problem
from sump.tokens import service as tokens

CLIENT_CREDENTIALS = "client_credentials"
AUTOMATION_TOKEN_TTL = 15 * 60  # at most: the access-token lifetime when it is shorter


@dataclass(frozen=True)
class ClientTokens:
    access_token: str
    expires_in: int
    scope: str


def unauthorized_client() -> Problem:
    return Problem(400, "unauthorized_client", "This client may not use this grant.")


def invalid_scope() -> Problem:
    return Problem(400, "invalid_scope", "The scope asks for more than the client was granted.")


def invalid_client() -> Problem:
    return Problem(401, "invalid_client", "Client authentication failed.", headers={"WWW-Authenticate": "Basic"})


def _granted(client: Client, scope: str | None) -> list[str]:
    """The permissions the token carries: those `scope` names (each one the client's), or all of them."""
    if scope is None or not scope.strip():
        return sorted(client.permissions)
    # Authlib on first use: a worker that serves no OAuth request does not load it
    from authlib.oauth2.rfc6749.util import scope_to_list

    asked = scope_to_list(scope) or []
    if not set(asked) <= set(client.permissions):
        raise invalid_scope()
    return sorted(set(asked))


async def _issued(call: Call, client: Client, scope: str) -> None:
    await audit.record(
        call.db,
        "token.issued",
        tenant_id=client.tenant_id,
        environment_id=client.environment_id,
        actor=Ref("client", client.id),
        target=Ref("client", client.id),
        details={"clientId": client.client_id, "grantType": CLIENT_CREDENTIALS, "scope": scope},
    )


async def client_credentials(call: Call, environment: Environment, client: Client, scope: str | None) -> ClientTokens:
    """An access token for an authenticated machine client of `environment`."""
    if (
        client.environment_id != environment.id
        or client.purpose is not ClientPurpose.MACHINE
        or client.kind is not ClientKind.CONFIDENTIAL
        or CLIENT_CREDENTIALS not in client.grant_types
        or not client.audience
    ):
        raise unauthorized_client()
    permissions = _granted(client, scope)
    ttl = call.settings.access_token_ttl
    now = utcnow()
    claims: dict[str, Any] = {
        "iss": tokens.issuer(call.settings, environment.id),
        "aud": client.audience,
        "sub": client.client_id,
        "client_id": client.client_id,
        "env": str(environment.id),
        "permissions": permissions,
        "scope": " ".join(permissions),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = await tokens.sign(call.db, call.settings, environment, claims, tokens.TOKEN_TYPE)
    await _issued(call, client, claims["scope"])
    return ClientTokens(token, ttl, claims["scope"])


async def automation_token(
    call: Call, tenant_id: uuid.UUID, client_id: str, secret: str | None, scope: str | None
) -> ClientTokens:
    """An opaque bearer token for a tenant's automation client that proves itself with `secret`."""
    proven = await service.prove(call.db, None, tenant_id, client_id, secret)
    if proven is None or proven.secret is None:
        raise invalid_client()
    client = proven.client
    permissions = _granted(client, scope)
    ttl = min(AUTOMATION_TOKEN_TTL, call.settings.access_token_ttl)
    now = utcnow()
    token = new_token()
    await repository.purge_tokens(call.db, tenant_id, client.id, now)
    row = ClientToken(
        token_hash=token_digest(token),
        tenant_id=tenant_id,
        client_pk=client.id,
        secret_pk=proven.secret.id,
        permissions=permissions,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    await repository.add(call.db, row)
    scope_text = " ".join(permissions)
    await _issued(call, client, scope_text)
    return ClientTokens(token, ttl, scope_text)


async def automation_actor(db: AsyncSession, token: str) -> ClientActor | None:
    """The automation client a live bearer token of its belongs to, with its permissions now; None otherwise."""
    found = await repository.token(db, token_digest(token), utcnow())
    if found is None:
        return None
    row, client = found
    permissions = frozenset(row.permissions) & frozenset(client.permissions)
    return ClientActor(client.tenant_id, client.id, client.client_id, client.name, permissions)


async def purge_expired(db: AsyncSession) -> int:
    """Deletes expired automation tokens (the hourly purge)."""
    return await repository.purge_expired_tokens(db, utcnow())
