"""Secrets at rest (`kit.sealing`): each purpose is sealed under its own key derived from SUMP_SECRET_KEY, and
each value is bound to its row, so a sealed value opens only for the purpose and the row it was sealed for,
under the secret that sealed it or a previous one listed beside it."""

from __future__ import annotations

import pytest

from sump.kit import sealing
from tests.support import SECRET

OTHER = "another-secret-of-at-least-thirty-two-bytes!!"
PURPOSES = [sealing.SIGNING_KEYS, sealing.FACTOR_SECRETS, sealing.RECOVERY_CODES, sealing.RECOVERY_CODE_TAGS]


@pytest.mark.parametrize("purpose", [sealing.SIGNING_KEYS, sealing.FACTOR_SECRETS])
def test_a_sealed_value_opens_only_for_its_own_purpose(purpose: bytes) -> None:
    sealed = sealing.seal(SECRET, purpose, b"private key", b"row-1")
    assert sealing.unseal(SECRET, purpose, sealed, b"row-1") == b"private key"
    for other in PURPOSES:
        if other != purpose:
            with pytest.raises(sealing.Unreadable):
                sealing.unseal(SECRET, other, sealed, b"row-1")


def test_each_purpose_has_its_own_derived_key_and_digest() -> None:
    assert len({sealing.derived_key(SECRET, purpose) for purpose in PURPOSES}) == len(PURPOSES)
    digests = {sealing.keyed_digest(SECRET, purpose, b"123456") for purpose in PURPOSES}
    assert len(digests) == len(PURPOSES), "a recovery code's digest is no tag, nor any other purpose's digest"


def test_a_sealed_value_opens_only_for_its_own_row() -> None:
    """A sealed value copied onto another row (a signing key's onto another kid, a TOTP seed onto another
    factor) opens nowhere: the row is the associated data."""
    sealed = sealing.seal(SECRET, sealing.FACTOR_SECRETS, b"seed", b"factor-1")
    for row in (b"factor-2", b"", b"factor-10"):
        with pytest.raises(sealing.Unreadable):
            sealing.unseal(SECRET, sealing.FACTOR_SECRETS, sealed, row)
    with pytest.raises(sealing.Unreadable):
        sealing.unseal_any(OTHER, [SECRET], sealing.FACTOR_SECRETS, sealed, b"factor-2")


def test_a_value_opens_under_the_secret_that_sealed_it_or_a_listed_previous_one_only() -> None:
    sealed = sealing.seal(SECRET, sealing.SIGNING_KEYS, b"private key", b"kid")
    assert sealing.unseal_any(OTHER, [SECRET], sealing.SIGNING_KEYS, sealed, b"kid") == (SECRET, b"private key")
    with pytest.raises(sealing.Unreadable):
        sealing.unseal_any(OTHER, [], sealing.SIGNING_KEYS, sealed, b"kid")
    resealed = sealing.resealed(OTHER, [SECRET], sealing.SIGNING_KEYS, sealed, b"kid")
    assert resealed is not None
    assert sealing.unseal(OTHER, sealing.SIGNING_KEYS, resealed, b"kid") == b"private key"
    with pytest.raises(sealing.Unreadable):
        sealing.unseal(SECRET, sealing.SIGNING_KEYS, resealed, b"kid")
    assert sealing.resealed(OTHER, [SECRET], sealing.SIGNING_KEYS, resealed, b"kid") is None
