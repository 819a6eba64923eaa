"""Hostile access tokens for the refusal tests of `…/me` and of the SDK.

Each token breaks one rule of a Sump access token and keeps everything else genuine: the claims of a real
token, and, where the rule is not about the signature, a signature by the environment's real signing key
(read from the database and unsealed with the test secret). `genuine()` re-signs the claims untouched, so a
test first proves that the forging itself yields accepted tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.tokens import SigningKey
from sump.tokens import keys
from tests.support import PASSWORD, SECRET, TenantWorld

ATTACKER_URL = "http://attacker.test"
ATTACKER_JWKS = f"{ATTACKER_URL}/jwks.json"
ATTACKER_CERT = f"{ATTACKER_URL}/cert.pem"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _compact(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A JWS built by hand, for the algorithms PyJWT refuses to produce with these keys."""

    def encode(part: dict[str, Any]) -> str:
        return _b64url(json.dumps(part, separators=(",", ":")).encode())

    signing_input = f"{encode(header)}.{encode(claims)}"
    return f"{signing_input}.{_b64url(sign(signing_input.encode()))}"


def hs256(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _compact({**header, "alg": "HS256"}, claims, lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _compact({**header, "alg": "none"}, claims, lambda _: b"")


class Attacker:
    """A key pair Sump never saw, published at the attacker's URLs, with a self-signed certificate."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = keys.public_jwk(self.key)
        self.kid = keys.thumbprint(self.jwk)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.test")])
        now = utcnow()
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.fetched: list[str] = []

    def transport(self) -> httpx.MockTransport:
        """Serves the attacker's JWKS and certificate, and remembers who asked."""

        def handle(request: httpx.Request) -> httpx.Response:
            self.fetched.append(str(request.url))
            if request.url.path == "/jwks.json":
                return httpx.Response(200, json={"keys": [{**self.jwk, "kid": self.kid, "alg": "ES256"}]})
            return httpx.Response(200, content=self.certificate.public_bytes(serialization.Encoding.PEM))

        return httpx.MockTransport(handle)


@dataclass(frozen=True)
class Genuine:
    """A real token taken apart: its header, its claims, the key that signed it and its JWKS entry."""

    header: dict[str, Any]
    claims: dict[str, Any]
    key: keys.PrivateKey
    published: dict[str, Any]

    def sign(self, claims: dict[str, Any] | None = None, **header: Any) -> str:
        """The claims (these, else the genuine ones) signed with the real key, under the real header changed by
        `header` (a value of None removes the parameter)."""
        merged = {"kid": self.header["kid"], "typ": self.header["typ"], **header}  # PyJWT drops a None `typ`
        return jwt.encode(claims or self.claims, self.key, algorithm=self.header["alg"], headers=merged)

    def genuine(self) -> str:
        return self.sign()

    def with_claims(self, **changes: Any) -> str:
        return self.sign({**self.claims, **changes})


async def take_apart(db: AsyncSession, jwks: dict[str, Any], token: str) -> Genuine:
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    row = await db.scalar(select(SigningKey).where(SigningKey.kid == header["kid"]))
    assert row is not None
    [published] = [key for key in jwks["keys"] if key["kid"] == header["kid"]]
    return Genuine(header, claims, keys.unseal(SECRET, row.kid, row.private_key), published)


async def signed_in(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> Genuine:
    """An end user's first access token from the password grant, taken apart."""
    tag = uuid.uuid4().hex[:8]
    body = {"name": f"Jwt User {tag}", "email": f"jwt-{tag}@example.com", "username": f"jwt_{tag}"}
    environment = f"/api/v1/auth/environments/{world.environment_id}"
    created = await client.post(f"{environment}/signup", json={**body, "password": PASSWORD})
    assert created.status_code == 201, created.text
    grant = {"grantType": "password", "email": body["email"], "password": PASSWORD}
    issued = await client.post(f"{environment}/token", json=grant)
    assert issued.status_code == 200, issued.text
    jwks = await client.get(f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json")
    return await take_apart(db, jwks.json(), issued.json()["accessToken"])


def wrong_type_issuer_or_audience(real: Genuine) -> dict[str, str]:
    """JWT-04: a token of another type, or meant for another issuer or audience."""
    issuer: str = real.claims["iss"]
    other_environment = str(uuid.uuid4())
    return {
        "typ JWT": real.sign(typ="JWT"),
        "typ absent": real.sign(typ=None),
        "typ of an ID token": real.sign(typ="id_token+jwt"),
        "iss of another environment": real.with_claims(iss=issuer.replace(real.claims["aud"], other_environment)),
        "iss on another host": real.with_claims(iss=issuer.replace("http://sump.test", "http://attacker.test")),
        "iss absent": real.sign({name: value for name, value in real.claims.items() if name != "iss"}),
        "aud of another environment": real.with_claims(aud=other_environment),
        "aud of the userinfo endpoint, a third party's": real.with_claims(aud=f"{issuer}/userinfo"),
        "aud absent": real.sign({name: value for name, value in real.claims.items() if name != "aud"}),
    }


def outside_lifetime(real: Genuine) -> dict[str, str]:
    """JWT-03: expired beyond the leeway, not valid yet, or without the claims that bound the lifetime."""
    now = int(time.time())
    return {
        "exp 61 s ago": real.with_claims(iat=now - 961, nbf=now - 961, exp=now - 61),
        "exp 1 h ago": real.with_claims(iat=now - 4500, nbf=now - 4500, exp=now - 3600),
        "nbf in 61 s": real.with_claims(iat=now, nbf=now + 61, exp=now + 900),
        "nbf in 1 h": real.with_claims(iat=now, nbf=now + 3600, exp=now + 4500),
        "nbf absent": real.sign({name: value for name, value in real.claims.items() if name != "nbf"}),
        "exp absent": real.sign({name: value for name, value in real.claims.items() if name != "exp"}),
    }


def key_in_header(real: Genuine, attacker: Attacker) -> dict[str, str]:
    """JWT-01: keys named or embedded in the header, signed by the key they name, or by ours."""

    def forged(**header: Any) -> str:
        return jwt.encode(real.claims, attacker.key, algorithm="ES256", headers={"typ": "at+jwt", **header})

    chain = [base64.b64encode(attacker.certificate.public_bytes(serialization.Encoding.DER)).decode()]
    return {
        "jwk embedded, attacker kid": forged(kid=attacker.kid, jwk=attacker.jwk),
        "jwk embedded, our kid": forged(kid=real.header["kid"], jwk=attacker.jwk),
        "jwk embedded, no kid": forged(jwk=attacker.jwk),
        "jku to attacker JWKS": forged(kid=attacker.kid, jku=ATTACKER_JWKS),
        "jku to attacker JWKS, our kid": forged(kid=real.header["kid"], jku=ATTACKER_JWKS),
        "x5u to attacker certificate": forged(kid=attacker.kid, x5u=ATTACKER_CERT),
        "x5c attacker certificate": forged(x5c=chain),
        # Sump's tokens carry alg, typ and kid only: a key-bearing header is refused even on our signature.
        "jwk on our signature": real.sign(jwk=attacker.jwk),
        "jku on our signature": real.sign(jku=ATTACKER_JWKS),
        "x5u on our signature": real.sign(x5u=ATTACKER_CERT),
    }


def wrong_algorithm(real: Genuine) -> dict[str, str]:
    """JWT-02: no signature, our public key used as an HMAC secret (PEM and JWK forms), an RSA key."""
    public = real.key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"kid": real.header["kid"], "typ": "at+jwt"}
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "alg none": unsigned(header, real.claims),
        "alg none, kid absent": unsigned({"typ": "at+jwt"}, real.claims),
        "HS256 keyed with the public PEM": hs256(pem, header, real.claims),
        "HS256 keyed with the public PEM, no newline": hs256(pem.strip(), header, real.claims),
        "HS256 keyed with the published JWK": hs256(json.dumps(real.published).encode(), header, real.claims),
        "HS256 keyed with the compact JWK": hs256(
            json.dumps(real.published, separators=(",", ":")).encode(), header, real.claims
        ),
        "RS256 with an unknown key": jwt.encode(real.claims, rsa_key, algorithm="RS256", headers=header),
    }
