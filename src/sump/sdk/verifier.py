"""A verifier for one Sump environment: it fetches the JWKS, caches it, and fetches again when it meets an
unknown `kid` (a key rotation), never more often than a floor, so a flood of forged kids cannot hammer Sump. A
fetch that fails (Sump down, or an answer that is no JWKS) is not tried again within that floor either: the keys
fetched before keep verifying meanwhile, for `max_stale_seconds` (a day) at most after their fetch. Past that,
every token is refused until Sump answers again: a key Sump has withdrawn since (after a leak) is not trusted
for ever by an app that an attacker has cut off from Sump."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068 media type)
# Sump's tokens carry these header parameters and no other. A key named or embedded in the header (`jwk`, `jku`,
# `x5u`, `x5c`) is never used: keys come from Sump's JWKS only, and a token that carries one is refused.
TOKEN_HEADER = frozenset({"alg", "typ", "kid"})


class TokenError(Exception):
    """The token is missing, malformed, forged, expired or meant for someone else."""


def _header(token: str) -> dict[str, Any]:
    """The token's JOSE header, read only to choose the key: `jwt.decode` parses and checks the whole token
    again. (PyJWT's `get_unverified_header` decodes every segment, a sixth of a verification's time.)"""
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    # binascii.Error and json.JSONDecodeError are ValueErrors; JSON nested deeper than the parser recurses (a few
    # kilobytes of brackets) raises RecursionError
    except (ValueError, RecursionError) as exc:
        raise TokenError("malformed token") from exc
    if not isinstance(header, dict):
        raise TokenError("malformed token")
    return header


@dataclass(frozen=True)
class Principal:
    """The caller an access token names."""

    account_id: uuid.UUID
    session_id: uuid.UUID
    environment_id: uuid.UUID
    organization_id: uuid.UUID | None
    roles: frozenset[str]
    permissions: frozenset[str]
    claims: dict[str, Any] = field(repr=False)


class JwksVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        client: httpx.AsyncClient | None = None,
        cache_seconds: float = 300,
        refetch_floor_seconds: float = 30,
        leeway_seconds: float = 30,
        max_stale_seconds: float = 86400,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.client = client or httpx.AsyncClient(timeout=5)
        self.cache_seconds = cache_seconds
        self.refetch_floor_seconds = refetch_floor_seconds
        self.leeway_seconds = leeway_seconds
        self.max_stale_seconds = max_stale_seconds
        self.fetches = 0
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._failed_at = float("-inf")
        self._lock = asyncio.Lock()

    @classmethod
    def for_environment(
        cls, sump_url: str, environment_id: uuid.UUID | str, *, public_url: str | None = None, **options: Any
    ) -> JwksVerifier:
        """Keys are fetched from `sump_url`; the issuer is built on `public_url` (Sump's SUMP_PUBLIC_URL) when
        the app reaches Sump by another address."""
        path = f"/api/v1/environments/{environment_id}"
        issuer = f"{(public_url or sump_url).rstrip('/')}{path}"
        jwks_url = f"{sump_url.rstrip('/')}{path}/.well-known/jwks.json"
        return cls(issuer=issuer, audience=str(environment_id), jwks_url=jwks_url, **options)

    async def _fetch(self) -> None:
        """The JWKS's ES256 keys; a key that is no such key is left out. ValueError for an answer that is no JWKS."""
        response = await self.client.get(self.jwks_url)
        response.raise_for_status()
        document = response.json()
        listed = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            raise ValueError("not a JWKS")
        keys = {}
        for key in listed:
            if not isinstance(key, dict) or not isinstance(key.get("kid"), str):
                continue
            if key.get("kty") != "EC" or key.get("alg", "ES256") != "ES256":
                continue
            try:
                keys[key["kid"]] = jwt.PyJWK({**key, "alg": "ES256"}).key
            except jwt.PyJWTError:
                continue
        self.fetches += 1
        self._fetched_at = time.monotonic()
        self._keys = keys

    async def _key(self, kid: str) -> Any:
        if kid in self._keys and time.monotonic() - self._fetched_at <= self.cache_seconds:
            return self._keys[kid]  # the common case, without the lock: nothing to fetch
        async with self._lock:
            now = time.monotonic()
            age = now - self._fetched_at
            stale = age > self.cache_seconds
            unknown = kid not in self._keys and age > self.refetch_floor_seconds
            failing = now - self._failed_at <= self.refetch_floor_seconds
            if (stale or unknown) and not failing:
                try:
                    await self._fetch()
                except (httpx.HTTPError, ValueError):  # json.JSONDecodeError is a ValueError
                    self._failed_at = time.monotonic()
            too_old = not self._keys or time.monotonic() - self._fetched_at > self.max_stale_seconds
            if too_old and self._failed_at > self._fetched_at:
                raise TokenError("the signing keys cannot be fetched")
            return self._keys.get(kid)

    async def verify(self, token: str) -> Principal:
        header = _header(token)
        if header.get("alg") != "ES256" or header.get("typ") != TOKEN_TYPE or not header.keys() <= TOKEN_HEADER:
            raise TokenError("not a Sump access token")
        key = await self._key(str(header.get("kid", "")))
        if key is None:
            raise TokenError("unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["ES256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "sid", "jti"]},
            )
            organization = claims.get("org_id")
            return Principal(
                account_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                environment_id=uuid.UUID(claims["env"]),
                organization_id=uuid.UUID(organization) if organization else None,
                roles=frozenset(claims.get("roles") or ()),
                permissions=frozenset(claims.get("permissions") or ()),
                claims=claims,
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise TokenError("invalid token") from exc
