"""Random tokens, their digests, and the signed `sump_session` cookie value."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from urllib.parse import quote, unquote

TOKEN_BYTES = 32


def new_token() -> str:
    """256 random bits, URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> bytes:
    """What is stored: SHA-256 of the token. The token has 256 bits of entropy, so no salt or stretching is needed."""
    return hashlib.sha256(token.encode()).digest()


def _mac(secret: str, value: str, purpose: str) -> str:
    mac = _keyed(secret).copy()
    if purpose:  # bound to the cookie it was made for: no other cookie's signature stands for it
        mac.update(purpose.encode() + b"\0")
    mac.update(value.encode())
    return base64.b64encode(mac.digest()).decode().rstrip("=")


@functools.lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    """HMAC-SHA256 keyed with `secret`, copied for each value: a new one looks the algorithm up in OpenSSL's
    providers at each call, which cost a cookie's check more than its hash."""
    return hmac.new(secret.encode(), digestmod="sha256")


def sign_cookie(secret: str, value: str, purpose: str = "") -> str:
    """`s:<value>.<base64 HMAC-SHA256>`, URL-encoded: the signed-cookie format the original Sump used. A cookie
    whose value its holder could choose (the device cookie's account ids; a flash's text) names its `purpose`,
    which the MAC covers, so that Sump's signature of a value for one cookie is none for another; the session
    cookies, whose values are random tokens, keep the original's format."""
    return quote(f"s:{value}.{_mac(secret, value, purpose)}", safe="")


# Cookies found signed by the current secret, by (secret, cookie) as they came: a browser sends the same cookie
# with each request, and checking its MAC again cost a session check more than its hash. A cookie is kept only
# when it carries a signature of that secret, is spelt as `sign_cookie` spells it (other percent-encodings verify
# too, each time, but one holder could make countless of them) and is as short as a session's (`KEPT_LENGTH`):
# so only Sump makes entries, one per cookie it set. At most `VERIFIED_KEPT` of them, a few megabytes, forgotten
# all at once when full.
_verified: dict[tuple[str, str, str], str] = {}
VERIFIED_KEPT = 4096
KEPT_LENGTH = 256


def unsign_cookie(secret: str, cookie: str, previous: Sequence[str] = (), purpose: str = "") -> str | None:
    """The value of a cookie made by `sign_cookie` for `purpose` under `secret` or, failing that, one of
    `previous` (secrets still read after a rotation), or None for anything else: a bad cookie counts as no
    cookie, whatever characters it holds (the signature is compared as bytes, in constant time)."""
    value = _verified.get((secret, purpose, cookie))
    if value is not None:
        return value
    raw = unquote(cookie)
    if not raw.startswith("s:") or "." not in raw:
        return None
    value, signature = raw[2:].rsplit(".", 1)
    try:
        given = signature.encode()
        if hmac.compare_digest(given, _mac(secret, value, purpose).encode()):
            if len(cookie) <= KEPT_LENGTH and cookie == quote(raw, safe=""):
                if len(_verified) >= VERIFIED_KEPT:
                    _verified.clear()
                _verified[secret, purpose, cookie] = value
            return value
        for candidate in previous:
            if hmac.compare_digest(given, _mac(candidate, value, purpose).encode()):
                return value
    except UnicodeEncodeError:  # a lone surrogate: no signature of ours
        return None
    return None
