"""Signing-key material: generation, RFC 7638 thumbprints, and encryption of private keys at rest.

Two algorithms, each with its own keys: ES256 (P-256) signs access tokens and, by default, ID tokens; RS256
(RSA, 2048 bits) signs the ID tokens of clients registered for it, the algorithm OpenID Connect requires every
provider to offer. A key is used with its own algorithm only: the algorithm is stored with it, never read from a
token."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sump.kit import sealing
from sump.kit.errors import Problem

# Sump's kids are RFC 7638 thumbprints (`thumbprint`): a SHA-256 digest, base64url without padding.
_KID = re.compile(r"[A-Za-z0-9_-]{43}")
UNREADABLE = "The environment's signing key cannot be decrypted: SUMP_SECRET_KEY is not the secret it was sealed with."
log = structlog.get_logger("sump.tokens")
ES256, RS256 = "ES256", "RS256"
ALGORITHMS = (ES256, RS256)
RSA_BITS = 2048
# The members RFC 7638 hashes, per key type.
_REQUIRED = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def public_jwk(private_key: PrivateKey) -> dict[str, str]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        public = private_key.public_key().public_numbers()
        return {"kty": "RSA", "n": _b64uint(public.n), "e": _b64uint(public.e)}
    numbers = private_key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def verifying_key(jwk: Mapping[str, str], algorithm: str) -> Any:
    """The public key of a published JWK for its algorithm, made once per worker: its members are the cache key,
    so another key never gets this one's object."""
    return _verifying_key(tuple(sorted(jwk.items())), algorithm)


@functools.lru_cache(maxsize=256)
def _verifying_key(members: tuple[tuple[str, str], ...], algorithm: str) -> Any:
    return jwt.PyJWK({**dict(members), "alg": algorithm}).key


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, without whitespace."""
    required = {name: jwk[name] for name in _REQUIRED[jwk["kty"]]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def kid_of(header: Mapping[str, Any]) -> str | None:
    """The JOSE header's `kid` when it has the shape of Sump's, else None: anything else names no key of ours, and
    is never sent to the database (PostgreSQL refuses to compare a text that holds a NUL)."""
    kid = header.get("kid")
    return kid if isinstance(kid, str) and _KID.fullmatch(kid) else None


def generate(algorithm: str) -> tuple[PrivateKey, dict[str, str], str]:
    """A new key for `algorithm` (P-256 or RSA), its public JWK and its kid."""
    private_key: PrivateKey
    if algorithm == RS256:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    else:
        private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(private_key)
    return private_key, jwk, thumbprint(jwk)


def seal(secret: str, kid: str, private_key: PrivateKey) -> bytes:
    """AES-256-GCM of the PKCS#8 key, bound to its kid; nonce first (`sump.kit.sealing`)."""
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return sealing.seal(secret, sealing.SIGNING_KEYS, der, kid.encode())


def opens(secret: str, kid: str, sealed: bytes) -> bool:
    """Whether `secret` is the one the key was sealed with."""
    try:
        sealing.unseal(secret, sealing.SIGNING_KEYS, sealed, kid.encode())
    except sealing.Unreadable:
        return False
    return True


def resealed(secret: str, previous: Sequence[str], kid: str, sealed: bytes) -> bytes | None:
    """The key sealed under `secret` when it is sealed under one of `previous` now (`sealing.resealed`)."""
    return sealing.resealed(secret, previous, sealing.SIGNING_KEYS, sealed, kid.encode())


def unseal(secret: str, kid: str, sealed: bytes, previous: Sequence[str] = ()) -> PrivateKey:
    """The private key, opened with `secret` or one of the `previous` ones; 503 `signing_key_unreadable` when
    none is the one it was sealed with (the secret changed, or a server runs with another one): a fault of the
    server's configuration, not a 500."""
    try:
        _, der = sealing.unseal_any(secret, previous, sealing.SIGNING_KEYS, sealed, kid.encode())
    except sealing.Unreadable:
        log.error("signing key unreadable", kid=kid, cause="SUMP_SECRET_KEY differs from the one that sealed it")
        raise Problem(503, "signing_key_unreadable", UNREADABLE) from None
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    return key
