"""The signed `sump_session` cookie: the original Sump's format (`s:<value>.<base64 HMAC-SHA256, unpadded>`,
URL-encoded), so cookies of either verify with the other's secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, unquote

from hypothesis import given
from hypothesis import strategies as st

from sump.kit.crypto import sign_cookie, unsign_cookie

_SECRETS = st.text(min_size=1, max_size=64)
_VALUES = st.text(st.characters(exclude_categories=["Cs"]), max_size=64)


def _reference(secret: str, value: str) -> str:
    """The format written from its definition, with the standard library's one-call HMAC."""
    mac = base64.b64encode(hmac.digest(secret.encode(), value.encode(), hashlib.sha256)).decode().rstrip("=")
    return quote(f"s:{value}.{mac}", safe="")


@given(secrets=st.lists(_SECRETS, min_size=1, max_size=12), value=_VALUES)
def test_a_cookie_is_signed_and_read_as_the_format_says_under_every_secret(secrets: list[str], value: str) -> None:
    """Signing under several secrets in turn (more than the keyed MACs kept) gives each secret's own signature."""
    for secret in secrets + secrets[::-1]:
        cookie = sign_cookie(secret, value)
        assert cookie == _reference(secret, value)
        assert unsign_cookie(secret, cookie) == value
        assert unsign_cookie(secret + "x", cookie) is None
        assert unsign_cookie(secret + "x", cookie, previous=(secret,)) == value


def test_a_cookie_without_the_format_prefix_is_no_cookie() -> None:
    """Only `s:<value>.<signature>` is read: the same value and signature behind any other two characters, or
    none, count as no cookie."""
    signed = unquote(sign_cookie("secret", "value"))
    assert signed.startswith("s:")
    for prefix in ("x:", "s.", "::", "s", ""):
        assert unsign_cookie("secret", quote(prefix + signed[2:], safe="")) is None
    assert unsign_cookie("secret", quote(signed, safe="")) == "value"


def test_a_cookie_whose_signature_is_cut_short_or_missing_is_no_cookie() -> None:
    """The whole signature is compared: a prefix of it, or nothing after the dot, does not verify (under the
    current secret or a previous one)."""
    signed = unquote(sign_cookie("secret", "value"))
    value, signature = signed.rsplit(".", 1)
    for cut in ("", signature[:1], signature[:-1]):
        assert unsign_cookie("secret", quote(f"{value}.{cut}", safe="")) is None
        assert unsign_cookie("other", quote(f"{value}.{cut}", safe=""), previous=("secret",)) is None
    assert unsign_cookie("secret", quote(f"{value}.{signature}x", safe="")) is None
