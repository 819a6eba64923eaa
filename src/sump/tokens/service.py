"""Access tokens (ES256 JWT) and rotating refresh tokens for end users.

Keys live per environment, one ring per algorithm (`keys.ALGORITHMS`: ES256 for access tokens and ID tokens,
RS256 for the ID tokens of clients registered for it, made when first needed). Each ring's keys move next →
active → retired: on a schedule (checked when a token is signed), or on demand, when every ring rotates. The
JWKS publishes the next key before it signs and a retired one until its tokens have expired, so a verifier
never meets an unknown `kid`.

Refresh tokens rotate on every use in one atomic statement. The successor of a token is derived from it with
the secret key, so concurrent refreshes of one token within the grace window all receive the same successor;
a use after that window is a replay, and ends the whole family with its session. A refresh token lives only
as long as its session: past the session's absolute or idle expiry, or once its account is disabled, it is
refused like an unknown token. A refresh is the session's activity: it slides the idle expiry, so an application
that only refreshes its tokens stays signed in until the absolute expiry.

This module does not import organizations: their role and permission come in as arguments (a grant at issue,
a lookup at refresh), and organizations revoke the refresh tokens issued for them through
`revoke_for_organization`, the only writer of that table besides the rotation here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import jwt
import structlog
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import AccountType, Session
from sump.db.tables.tokens import KeyStatus, RefreshToken, SigningKey
from sump.kit.crypto import new_token, token_digest
from sump.kit.errors import Problem
from sump.sessions import service as sessions
from sump.tokens import keys, repository
from sump.tokens.issuees import Issuee as Issuee
from sump.tokens.issuees import SignedIn

log = structlog.get_logger("sump.tokens")
LEEWAY = timedelta(seconds=30)
TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068 media type)
# Sump's tokens carry these header parameters and no other: a header naming or embedding a key (`jwk`, `jku`,
# `x5u`, `x5c`) or anything else was not made here.
TOKEN_HEADER = frozenset({"alg", "typ", "kid"})


class Grant(Protocol):
    """What an access token says about its active organization (the organizations feature provides it)."""

    @property
    def organization_id(self) -> uuid.UUID: ...

    @property
    def roles(self) -> list[str]: ...

    @property
    def permissions(self) -> list[str]: ...


# account_of(db, account_id): the enabled end user, else None.
AccountOf = Callable[[AsyncSession, uuid.UUID], Awaitable[EnvironmentAccount | None]]
# grant_of(db, environment_id, organization_id, account_id): the membership as it is now, else None.
GrantOf = Callable[[AsyncSession, uuid.UUID, uuid.UUID, uuid.UUID], Awaitable[Grant | None]]


def issuer(settings: Settings, environment_id: uuid.UUID) -> str:
    return f"{settings.public_url}/api/v1/environments/{environment_id}"


def invalid_grant(detail: str = "The refresh token is not valid.") -> Problem:
    return Problem(401, "invalid_grant", detail)


def invalid_token() -> Problem:
    return Problem(401, "invalid_token", "The access token is not valid.", headers={"WWW-Authenticate": "Bearer"})


# --- keys ---------------------------------------------------------------------------------------------------


async def _new_key(
    db: AsyncSession, settings: Settings, environment: Environment, algorithm: str, status: KeyStatus
) -> SigningKey:
    # In a thread: an RSA key takes 20 to 230 ms of CPU to make, which the event loop's other requests would wait.
    private_key, jwk, kid = await asyncio.to_thread(keys.generate, algorithm)
    now = utcnow()
    row = SigningKey(
        kid=kid,
        tenant_id=environment.tenant_id,
        environment_id=environment.id,
        algorithm=algorithm,
        status=status,
        public_jwk=jwk,
        private_key=keys.seal(settings.secret_key, kid, private_key),
        created_at=now,
        activated_at=now if status is KeyStatus.ACTIVE else None,
    )
    await repository.add(db, row)
    return row


async def rotate(
    db: AsyncSession, settings: Settings, environment: Environment, *, on_demand: bool = False
) -> SigningKey:
    """Every ring of the environment rotates: next → active, active → retired, and a new next. Returns the new
    active ES256 key, which signs access tokens. Rotations of one environment take turns
    (`repository.locked_keys`), so each ring stays one active key and one next key. A rotation `on_demand` (an
    admin's) is refused while the ring publishes `MOST_RETIRED` retired keys already (`rotation_budget`)."""
    current = await repository.locked_keys(db, environment.id)
    if on_demand:
        await rotation_budget(db, settings, environment)
    rings = {keys.ES256} | {key.algorithm for key in current}
    rotated = [await _rotate(db, settings, environment, current, algorithm) for algorithm in sorted(rings)]
    return next(key for key in rotated if key.algorithm == keys.ES256)


async def _rotate(
    db: AsyncSession, settings: Settings, environment: Environment, current: list[SigningKey], algorithm: str
) -> SigningKey:
    now = utcnow()
    ring = [key for key in current if key.algorithm == algorithm]
    upcoming = next((key for key in ring if key.status is KeyStatus.NEXT), None)
    for key in ring:
        if key.status is KeyStatus.ACTIVE:
            key.status, key.retired_at = KeyStatus.RETIRED, now
    if upcoming is None:
        upcoming = await _new_key(db, settings, environment, algorithm, KeyStatus.ACTIVE)
    upcoming.status, upcoming.activated_at = KeyStatus.ACTIVE, now
    await _new_key(db, settings, environment, algorithm, KeyStatus.NEXT)
    await db.flush()
    PUBLISHED.forget(environment.id)
    log.info("signing_key_rotated", environment_id=str(environment.id), kid=upcoming.kid, algorithm=algorithm)
    return upcoming


def _signing(key: SigningKey | None, settings: Settings) -> SigningKey | None:
    """The active key while it may sign, None once it is due for rotation (or when there is none)."""
    due = None if key is None else rotation_due(key, settings)
    return key if due is not None and utcnow() <= due else None


async def active_key(
    db: AsyncSession, settings: Settings, environment: Environment, algorithm: str = keys.ES256
) -> SigningKey:
    """The key of `algorithm` that signs now, its ring made on first use and rotated when older than the rotation
    period."""
    key = _signing(await repository.active_key(db, environment.id, algorithm), settings)
    if key is not None:
        return key
    # Due: the first signer to hold the key lock rotates; one that waited for it signs with the key it promoted.
    current = await repository.locked_keys(db, environment.id)
    ring = (key for key in current if key.algorithm == algorithm and key.status is KeyStatus.ACTIVE)
    key = _signing(next(ring, None), settings)
    return key if key is not None else await _rotate(db, settings, environment, current, algorithm)


# Retired keys a ring publishes at most, and so rotations on demand within a token's lifetime: each one stays in the
# JWKS that every verifier parses until the tokens it signed have expired.
MOST_RETIRED = 5
# How long a retired key is kept after it has left the JWKS: it still verifies the expired ID tokens that
# RP-initiated logout accepts as hints; then the hourly purge deletes it.
RETIRED_KEPT = timedelta(days=30)


def _publication(settings: Settings) -> timedelta:
    """How long a retired key stays in the JWKS: until the tokens it signed have expired."""
    return timedelta(seconds=settings.access_token_ttl) + LEEWAY


async def rotation_budget(db: AsyncSession, settings: Settings, environment: Environment) -> None:
    """429 `rotation_too_frequent` while the environment's ES256 ring publishes `MOST_RETIRED` retired keys or more,
    with the seconds until fewer are published (the fifth newest leaves the JWKS)."""
    now = utcnow()
    since = now - _publication(settings)
    retired = sorted(
        key.retired_at
        for key in await repository.published_keys(db, environment.id, since)
        if key.algorithm == keys.ES256 and key.status is KeyStatus.RETIRED and key.retired_at is not None
    )
    if len(retired) >= MOST_RETIRED:  # (`sump keys rotate` and the schedule may have published more)
        wait = max(1, math.ceil((retired[-MOST_RETIRED] - since).total_seconds()))
        detail = f"The keys were rotated {MOST_RETIRED} times within the tokens' lifetime: try again in {wait} seconds."
        raise Problem(429, "rotation_too_frequent", detail, headers={"Retry-After": str(wait)})


async def purge_retired_keys(db: AsyncSession) -> int:
    """Deletes the keys retired more than `RETIRED_KEPT` ago, of every environment (the hourly purge)."""
    return await repository.purge_retired(db, utcnow() - RETIRED_KEPT)


def published_until(key: SigningKey, settings: Settings) -> datetime | None:
    """Until when a retired key stays in the JWKS (the tokens it signed expire by then); None for others."""
    if key.status is not KeyStatus.RETIRED or key.retired_at is None:
        return None
    return key.retired_at + _publication(settings)


def rotation_due(key: SigningKey, settings: Settings) -> datetime | None:
    """When the active key is rotated: by the first token signed after this time (None for other keys)."""
    if key.status is not KeyStatus.ACTIVE or key.activated_at is None:
        return None
    return key.activated_at + timedelta(days=settings.key_rotation_days)


def _published(key: SigningKey, settings: Settings, now: datetime) -> bool:
    if key.status is not KeyStatus.RETIRED:
        return True
    until = published_until(key, settings)
    return until is not None and now <= until


@dataclass(frozen=True)
class KeySet:
    """An environment's published keys as a JWKS document, and whether it holds the access tokens' (ES256) ring and
    the next key of each of its rings."""

    document: dict[str, list[dict[str, Any]]]
    next_published: bool


async def key_set(db: AsyncSession, settings: Settings, environment_id: uuid.UUID) -> KeySet:
    now = utcnow()
    published = await repository.published_keys(db, environment_id, now - _publication(settings))
    document = {"keys": [{**key.public_jwk, "kid": key.kid, "alg": key.algorithm, "use": "sig"} for key in published]}
    upcoming = {key.algorithm for key in published if key.status is KeyStatus.NEXT}
    return KeySet(document, keys.ES256 in upcoming and upcoming == {key.algorithm for key in published})


async def jwks(db: AsyncSession, settings: Settings, environment_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    return (await key_set(db, settings, environment_id)).document


JWKS_FRESH = 10.0  # seconds a worker serves the JWKS it rendered before it reads the keys again


class PublishedKeys:
    """Each environment's rendered JWKS (body and entity tag) as this worker last served it, for `JWKS_FRESH`
    seconds, so that serving it costs no SQL. Only a set that holds the ES256 ring and the next key of each ring
    is kept: the key a rotation makes active is then already in it, so a rotation by another worker or node, seen
    here within `JWKS_FRESH` seconds, never leaves a token unverifiable (only a second rotation within those
    seconds would), and the first access token's key is never hidden by a set served before it. A rotation by
    this worker forgets its environment at once. An RS256 ring made later (an application registered for it)
    may stay unseen here for those seconds: it is made at the registration, well before its first ID token."""

    LIMIT = 4096  # environments kept at most; past it the whole map starts again

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._kept: dict[uuid.UUID, tuple[float, tuple[bytes, bytes]]] = {}

    def get(self, environment_id: uuid.UUID) -> tuple[bytes, bytes] | None:
        kept = self._kept.get(environment_id)
        return kept[1] if kept is not None and kept[0] > self.clock() else None

    def keep(self, environment_id: uuid.UUID, rendered: tuple[bytes, bytes]) -> None:
        if len(self._kept) >= self.LIMIT:
            self._kept.clear()
        self._kept[environment_id] = (self.clock() + JWKS_FRESH, rendered)

    def forget(self, environment_id: uuid.UUID) -> None:
        self._kept.pop(environment_id, None)


PUBLISHED = PublishedKeys()


@lru_cache(maxsize=256)
def _private_key(secret: str, kid: str, sealed: bytes, previous: tuple[str, ...]) -> keys.PrivateKey:
    return keys.unseal(secret, kid, sealed, previous)


# --- access tokens ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    account: EnvironmentAccount
    family_id: uuid.UUID | None = None
    scope: str | None = None
    organization_id: uuid.UUID | None = None  # the organization the access token acts in


async def _access_token(
    db: AsyncSession,
    settings: Settings,
    environment: Environment,
    account: EnvironmentAccount,
    session_id: uuid.UUID,
    grant: Grant | None,
    amr: list[str] | None = None,
    issuee: Issuee | None = None,
) -> str:
    """`grant`: the active organization, with the role and permissions of the membership now; `amr`: how the
    session was signed in (RFC 8176), left out for sessions made before it was recorded; `issuee`: the client
    (RFC 9068 `client_id` and `scope`). The audience is the environment, which resource servers (the SDK)
    verify, except for a third-party client's token (see `Issuee.first_party`)."""
    now = utcnow()
    first_party = issuee is None or issuee.first_party
    if not first_party:
        grant = None
    claims: dict[str, Any] = {
        "iss": issuer(settings, environment.id),
        "aud": str(environment.id) if first_party else userinfo_audience(settings, environment.id),
        "sub": str(account.id),
        "sid": str(session_id),
        "env": str(environment.id),
        "org_id": str(grant.organization_id) if grant else None,
        "roles": grant.roles if grant else [],
        "permissions": grant.permissions if grant else [],
        # written by the tenant's admins only; never custom properties
        "metadata": (account.metadata_ or {}) if first_party else {},
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if amr:
        claims["amr"] = amr
    if issuee is not None:
        claims["client_id"], claims["scope"] = issuee.client_id, issuee.scope
    return await sign(db, settings, environment, claims, TOKEN_TYPE)


async def sign(
    db: AsyncSession,
    settings: Settings,
    environment: Environment,
    claims: dict[str, Any],
    typ: str,
    algorithm: str = keys.ES256,
) -> str:
    """`claims` signed with the environment's active key of `algorithm`, with `typ` in the header (ID tokens:
    JWT)."""
    key = await active_key(db, settings, environment, algorithm)
    private_key = _private_key(settings.secret_key, key.kid, key.private_key, settings.previous_secret_keys)
    return jwt.encode(claims, private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": typ})


def userinfo_audience(settings: Settings, environment_id: uuid.UUID) -> str:
    """The audience of third-party clients' access tokens: the environment's userinfo endpoint."""
    return f"{issuer(settings, environment_id)}/userinfo"


async def verify_access_token(
    db: AsyncSession, settings: Settings, environment: Environment, token: str, *, userinfo: bool = False
) -> dict[str, Any]:
    """An end user's access token: header, signature (this environment's published keys only, ES256 only), type,
    issuer, audience (the environment; for `userinfo`, also that endpoint, the audience of third-party clients'
    tokens) and times."""
    audiences = [str(environment.id)] + ([userinfo_audience(settings, environment.id)] if userinfo else [])
    return await _verified(db, settings, environment, token, audiences, ("sub", "sid"))


async def verify_machine_token(
    db: AsyncSession, settings: Settings, environment: Environment, token: str, audience: str
) -> dict[str, Any]:
    """A machine client's access token (`sump.clients.grants`) for `audience`, checked as an end user's is."""
    return await _verified(db, settings, environment, token, [audience], ("sub", "client_id"))


async def _verified(
    db: AsyncSession,
    settings: Settings,
    environment: Environment,
    token: str,
    audiences: list[str],
    required: tuple[str, ...],
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != TOKEN_TYPE or not header.keys() <= TOKEN_HEADER:
            raise invalid_token()
        kid = keys.kid_of(header)
        key = None if kid is None else await repository.key_by_kid(db, environment.id, kid)
        if key is None or not _published(key, settings, utcnow()):
            raise invalid_token()
        # ES256 only: the JWKS's RSA keys verify ID tokens, never these (an RSA JWK is no ES256 key to PyJWT).
        public_key = keys.verifying_key(key.public_jwk, keys.ES256)
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=[keys.ES256],
            audience=audiences,
            issuer=issuer(settings, environment.id),
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "jti", *required]},
        )
    except jwt.PyJWTError:
        raise invalid_token() from None
    return claims


# --- refresh tokens -----------------------------------------------------------------------------------------


async def carry_over(db: AsyncSession, settings: Settings, replaced_token: str, successor: Session) -> None:
    """The refresh tokens applications took from a browser's session go on with the session a new sign-in of the
    same account in that browser replaces it with: signing in again (for another application's `prompt=login`,
    say) must not sign the account out of every other application. Another account's sign-in ends them, and so
    does a session that had expired (its tokens were dormant, never to be revived)."""
    replaced = await repository.same_accounts_session(db, token_digest(replaced_token), successor)
    if replaced is not None and await sessions.is_live(db, settings, replaced):
        await repository.move_refresh_tokens(db, replaced, successor.id)


async def revoke_for_session(db: AsyncSession, session_id: uuid.UUID) -> None:
    """Ends the refresh tokens issued from one session that itself goes on (a new password chosen in it: a token
    taken from it before must not outlive the password; the session's own applications exchange it again)."""
    await repository.revoke_for_session(db, session_id, utcnow())


def _successor(secret: str, token: str) -> str:
    """The token that replaces `token`: only a holder of `token` (and the server) can compute it."""
    digest = hmac.new(secret.encode(), b"refresh:" + token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def issue(
    db: AsyncSession,
    settings: Settings,
    environment: Environment,
    account: EnvironmentAccount,
    session: SignedIn,
    grant: Grant | None,
    issuee: Issuee | None = None,
) -> TokenPair:
    """A new family: an access token and the first refresh token of a chain, bound to the grant's organization
    and to the client it is issued to (`issuee`)."""
    raw = new_token()
    family_id = uuid.uuid4()
    organization_id = grant.organization_id if grant else None
    await repository.add_refresh_token(
        db,
        RefreshToken(
            token_hash=token_digest(raw),
            family_id=family_id,
            session_id=session.id,
            environment_id=environment.id,
            account_id=account.id,
            organization_id=organization_id,
            client_pk=issuee.pk if issuee else None,
            scope=issuee.scope if issuee else None,
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl),
        ),
    )
    access = await _access_token(db, settings, environment, account, session.id, grant, session.amr, issuee)
    return TokenPair(access, raw, settings.access_token_ttl, account, family_id, organization_id=organization_id)


async def refresh(
    db: AsyncSession,
    settings: Settings,
    environment: Environment,
    account_of: AccountOf,
    grant_of: GrantOf,
    raw: str,
    client: Issuee | None = None,
) -> TokenPair | Problem:
    """Rotates `raw` while its session is live and its account enabled (`account_of`); the new access token
    carries the organization's role and permissions as they are now (`grant_of`). A token issued to a client
    is refreshed by that client only (`client`, authenticated; its `scope` may narrow the granted one, never
    widen it, and empty keeps it), and a token of the first-party grants by no client.

    A replay returns (not raises) its problem: the revocation of the family and of the session must be
    committed with the answer."""
    now = utcnow()
    row = await repository.refresh_by_digest(db, environment.id, token_digest(raw))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise invalid_grant()
    if row.client_pk != (client.pk if client else None):
        raise invalid_grant()
    granted = (row.scope or "").split()
    asked = (client.scope.split() if client else []) or granted
    if not set(asked) <= set(granted):
        raise Problem(400, "invalid_scope", "A refresh cannot widen the scope.")
    if client and client.registered is not None:
        asked = [scope for scope in asked if scope in client.registered]
    issuee = (
        Issuee(row.client_pk, client.client_id, " ".join(asked), client.first_party)
        if client and row.client_pk
        else None
    )
    live, amr = await sessions.live_amr(db, settings, row.session_id, active=True)
    if not live:  # expired, idle or revoked: same answer
        raise invalid_grant()
    account = await account_of(db, row.account_id)
    if account is None:
        raise invalid_grant()
    # The membership as it is now: a role change shows, a removal ends it (below, after a replay has had its say).
    grant = None if row.organization_id is None else await grant_of(db, environment.id, row.organization_id, account.id)
    # Signed before the rotation, so that the successor and the audit row are written together after it; a token
    # the rotation or the membership refuses is never sent.
    access = await _access_token(db, settings, environment, account, row.session_id, grant, amr, issuee)
    successor = _successor(settings.secret_key, raw)
    if await repository.mark_rotated(db, row.id, now):
        await repository.add_refresh_token(
            db,
            RefreshToken(
                token_hash=token_digest(successor),
                family_id=row.family_id,
                session_id=row.session_id,
                environment_id=row.environment_id,
                account_id=row.account_id,
                organization_id=row.organization_id,
                client_pk=row.client_pk,
                scope=row.scope,
                expires_at=now + timedelta(seconds=settings.refresh_token_ttl),
            ),
        )
    else:
        try:
            await db.refresh(row)
        except InvalidRequestError:  # gone with its sign-in, ended meanwhile: as an unknown token
            raise invalid_grant() from None
        within_grace = row.rotated_at is not None and now - row.rotated_at <= timedelta(
            seconds=settings.refresh_grace_seconds
        )
        current = await repository.refresh_by_digest(db, environment.id, token_digest(successor))
        for previous in settings.previous_secret_keys:  # the refresh that won may have run before a rotation
            if current is not None:
                break
            successor = _successor(previous, raw)
            current = await repository.refresh_by_digest(db, environment.id, token_digest(successor))
        # The grace is for a client's concurrent requests: once the successor was itself used, the chain moved on
        # and this is a replay.
        if not within_grace or current is None or current.revoked_at is not None or current.rotated_at is not None:
            await _end_sign_in(db, row, now)
            return invalid_grant("The refresh token was already used; the sign-in is revoked.")
    if row.organization_id is not None and grant is None:
        raise invalid_grant()
    scope = issuee.scope if issuee else None
    return TokenPair(access, successor, settings.access_token_ttl, account, row.family_id, scope, row.organization_id)


async def _end_sign_in(db: AsyncSession, replayed: RefreshToken, now: datetime) -> None:
    """A replay means two holders of one chain: its family is revoked and its session ended, so neither the
    session's cookie or bearer token nor the access tokens it issued work any more."""
    await repository.revoke_family(db, replayed.family_id, now)
    await sessions.revoke_of_account(db, AccountType.ENVIRONMENT_ACCOUNT, replayed.account_id, replayed.session_id)
    log.warning(
        "refresh_token_reuse",
        family_id=str(replayed.family_id),
        account_id=str(replayed.account_id),
        session_id=str(replayed.session_id),
    )


async def revoke(db: AsyncSession, environment: Environment, raw: str, client_pk: uuid.UUID | None = None) -> None:
    """Revokes the token's whole family (RFC 7009: unknown tokens are not an error). A token issued to a client
    is revoked by that client only (`client_pk`, authenticated), a first-party grant's by no client: another's
    token is left alone with the same answer."""
    row = await repository.refresh_by_digest(db, environment.id, token_digest(raw))
    if row is not None and row.client_pk == client_pk:
        await repository.revoke_family(db, row.family_id, utcnow())


async def revoke_for_organization(
    db: AsyncSession, environment_id: uuid.UUID, organization_id: uuid.UUID, account_id: uuid.UUID | None
) -> None:
    """Revokes the refresh tokens issued for the organization: to one account, or to everyone (None)."""
    await repository.revoke_for_organization(db, environment_id, organization_id, account_id, utcnow())
