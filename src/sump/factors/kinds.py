"""Factor kinds as data. A kind names what a challenge lists in `factors`, what a client sends as `factor`, and
the RFC 8176 `amr` value a session signed in with it carries. A new kind is one more entry here, a verifier in
`sump.factors.service`, and its own enrolment steps, as `webauthn` (passkeys, `sump.factors.webauthn`) is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    amr: str
    enrollable: bool  # an account enrols it as a factor (recovery codes come with the first factor)


TOTP = Kind("totp", "otp", enrollable=True)
RECOVERY_CODE = Kind("recovery_code", "rc", enrollable=False)
# A passkey: `hwk` when its key is bound to one device, `swk` when it is synced between devices. It is enrolled
# from a signed-in session or the console, not with a required-policy enrolment challenge (TOTP only).
WEBAUTHN = Kind("webauthn", "hwk", enrollable=False)
WEBAUTHN_SYNCED = Kind("webauthn", "swk", enrollable=False)

KINDS = {kind.name: kind for kind in (TOTP, RECOVERY_CODE, WEBAUTHN)}
ENROLLABLE = [kind.name for kind in KINDS.values() if kind.enrollable]
PASSWORD_AMR = "pwd"  # noqa: S105 (a method's name)
MULTI_FACTOR_AMR = "mfa"


def amr_of(first: list[str], second: Kind) -> list[str]:
    """The `amr` of a sign-in whose first steps gave `first` and whose second factor was `second`."""
    return [*first, second.amr, MULTI_FACTOR_AMR]
