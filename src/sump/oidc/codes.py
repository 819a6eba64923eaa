"""Authorization codes: random, stored as their SHA-256, 60 seconds, used once, bound to the client, its
redirect URI, the PKCE challenge (S256) and the nonce. A replayed code revokes what it issued and ends the
sign-in it was issued in, so that its access tokens stop working too."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from sump.clients import redirects
from sump.db.base import utcnow
from sump.db.tables.clients import AuthorizationCode, Client
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import Session
from sump.kit.crypto import new_token, token_digest
from sump.kit.errors import Problem
from sump.oidc import repository
from sump.tokens import clients as client_tokens

CODE_TTL = timedelta(seconds=60)


def invalid_grant(detail: str = "The authorization code is not valid.") -> Problem:
    return Problem(400, "invalid_grant", detail)


async def issue(
    db: AsyncSession,
    environment: Environment,
    client: Client,
    account: EnvironmentAccount,
    session: Session,
    parameters: dict[str, Any],
) -> str:
    code = new_token()
    now = utcnow()
    await repository.add(
        db,
        AuthorizationCode(
            code_hash=token_digest(code),
            environment_id=environment.id,
            client_pk=client.id,
            account_id=account.id,
            session_id=session.id,
            redirect_uri=parameters["redirect_uri"],
            scope=" ".join(parameters["scope"]),
            nonce=parameters.get("nonce"),
            code_challenge=parameters["code_challenge"],
            auth_time=session.created_at,
            created_at=now,
            expires_at=now + CODE_TTL,
        ),
    )
    return code


@dataclass(frozen=True)
class Redeemed:
    """A code redeemed once: what the tokens it issues say."""

    id: uuid.UUID
    account_id: uuid.UUID
    session_id: uuid.UUID
    scope: str
    nonce: str | None
    auth_time: datetime


def _verifier_matches(verifier: str | None, challenge: str) -> bool:
    # Authlib on first use: a worker that serves no OAuth request does not load it
    from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN, create_s256_code_challenge

    if not verifier or not CODE_VERIFIER_PATTERN.match(verifier):
        return False
    return hmac.compare_digest(create_s256_code_challenge(verifier).encode(), challenge.encode())


async def redeem(
    db: AsyncSession,
    environment: Environment,
    client: Client,
    code: str,
    redirect_uri: str | None,
    verifier: str | None,
) -> Redeemed | Problem:
    """The code's grant, once; raises `invalid_grant` for an unknown, expired or mismatched code. A replay
    returns (not raises) its problem: the revocation of what the code issued commits with the answer. Only a
    replay that proves its request (its redirect_uri and verifier) revokes: a public client is named, not
    authenticated, and a spent code that leaked must not end its sign-in for whoever found it."""
    row = await repository.code_by_digest(db, environment.id, token_digest(code))
    now = utcnow()
    if row is None or row.client_pk != client.id:
        raise invalid_grant()
    if redirect_uri != row.redirect_uri:
        raise invalid_grant("The redirect_uri is not the one of the authorization request.")
    if not _verifier_matches(verifier, row.code_challenge):
        raise invalid_grant("The code_verifier does not match the code_challenge.")
    if row.used_at is not None:
        return await _replayed(db, environment, row)
    if row.expires_at <= now:
        raise invalid_grant("The authorization code has expired.")
    if not redirects.matches(client.redirect_uris, row.redirect_uri):  # taken from the registration since
        raise invalid_grant("The redirect_uri is no longer registered.")
    if not await repository.use_code(db, environment.id, row.id, now):
        try:
            await db.refresh(row)
        except InvalidRequestError:  # gone with its sign-in, ended meanwhile: nothing left to revoke
            raise invalid_grant() from None
        return await _replayed(db, environment, row)
    return Redeemed(row.id, row.account_id, row.session_id, row.scope, row.nonce, row.auth_time)


async def _replayed(db: AsyncSession, environment: Environment, row: AuthorizationCode) -> Problem:
    await client_tokens.revoke_issued_by_code(
        db, environment.id, row.family_id, row.session_id, row.client_pk, row.account_id
    )
    return invalid_grant("The authorization code was already used; the sign-in is revoked.")


async def issued(db: AsyncSession, code_id: uuid.UUID, family_id: uuid.UUID) -> None:
    """The refresh-token family the code issued, which a replay revokes."""
    await repository.set_code_family(db, code_id, family_id)
