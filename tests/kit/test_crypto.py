"""The signed `sump_session` cookie: the original Sump's format (`s:<value>.<base64 HMAC-SHA256, unpadded>`,
URL-encoded), so cookies of either verify with the other's secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

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
