"""The signed `sump_session` cookie: the original Sump's format (`s:<value>.<base64 HMAC-SHA256, unpadded>`,
URL-encoded), so cookies of either verify with the other's secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from urllib.parse import quote, unquote

from hypothesis import given
from hypothesis import strategies as st

from sump.kit import crypto
from sump.kit.crypto import new_token, sign_cookie, unsign_cookie

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


def test_a_cookie_verified_once_is_read_again_only_under_the_secret_that_signed_it() -> None:
    """A cookie found signed is remembered for that secret alone: under another secret it is no cookie, and one
    that verified only under a previous secret verifies no longer once that secret is no longer listed."""
    cookie = sign_cookie("current", "value")
    assert unsign_cookie("current", cookie) == "value"
    assert unsign_cookie("current", cookie) == "value"
    assert unsign_cookie("other", cookie) is None
    old = sign_cookie("old", "value")
    assert unsign_cookie("current", old, previous=("old",)) == "value"
    assert unsign_cookie("current", old) is None


def test_cookies_are_remembered_only_when_signed_and_short_and_only_so_many() -> None:
    """Only a cookie signed by the current secret and as short as a session's is kept, and never more than the
    limit: unsigned, tampered and long cookies (or a flood of signed ones) cannot grow a worker's memory."""
    crypto._verified.clear()
    signed = sign_cookie("secret", new_token())
    tampered = signed[:-1] + ("A" if signed[-1] != "A" else "B")
    assert unsign_cookie("secret", tampered) is None
    assert unsign_cookie("secret", "s%3Aunsigned.x") is None
    long = sign_cookie("secret", "v" * crypto.KEPT_LENGTH)
    assert unsign_cookie("secret", long) == "v" * crypto.KEPT_LENGTH
    assert crypto._verified == {}
    assert unsign_cookie("secret", signed) is not None
    assert list(crypto._verified) == [("secret", "", signed)]
    for _ in range(crypto.VERIFIED_KEPT + 10):
        assert unsign_cookie("secret", sign_cookie("secret", new_token())) is not None
        assert len(crypto._verified) <= crypto.VERIFIED_KEPT


def test_other_spellings_of_one_signed_cookie_are_not_remembered() -> None:
    """A signed cookie can be percent-encoded in countless ways, each verifying: only the spelling Sump sets is
    remembered, so one holder of a cookie cannot fill the memory and push everyone else's cookies out of it."""
    crypto._verified.clear()
    victim = sign_cookie("secret", new_token())
    assert unsign_cookie("secret", victim) is not None
    raw = unquote(sign_cookie("secret", new_token()))  # the attacker's own cookie
    draw = random.Random(1)
    spellings: set[str] = set()
    while len(spellings) < crypto.VERIFIED_KEPT:
        spelling = "".join(
            f"%{ord(char):02{draw.choice('xX')}}" if draw.random() < 0.5 else quote(char, safe="") for char in raw
        )
        if len(spelling) <= crypto.KEPT_LENGTH and spelling != quote(raw, safe=""):
            spellings.add(spelling)
    for spelling in spellings:
        assert unsign_cookie("secret", spelling) == raw[2:].rsplit(".", 1)[0]
    assert list(crypto._verified) == [("secret", "", victim)]


def test_a_signature_for_one_purpose_stands_for_no_other() -> None:
    """A value signed for one cookie (the device cookie's account ids, a flash's text) is refused as any other
    cookie's, or as one signed in the original's format, and the other way round; a remembered cookie is so for its
    own purpose only."""
    crypto._verified.clear()
    value = new_token()
    signed = {purpose: sign_cookie("secret", value, purpose) for purpose in ("", "sump_device", "sump_flash")}
    assert len(set(signed.values())) == 3
    for made, cookie in signed.items():
        for read in signed:
            assert unsign_cookie("secret", cookie, purpose=read) == (value if read == made else None), (made, read)
        assert unsign_cookie("other", cookie, ["secret"], purpose=made) == value, "previous secrets still read"
