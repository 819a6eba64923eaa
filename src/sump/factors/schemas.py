from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from sump.db.tables.factors import Factor
from sump.kit.schemas import RequestModel, ResponseModel
from sump.sessions.schemas import SignedIn

ChallengeToken = Field(min_length=1, max_length=256, description="The challenge of the step before.")
FACTOR_NAME = (
    "Which factor answers: `totp` (an authenticator code) or `recovery_code`. Left out, six digits are read as "
    "a TOTP code and anything else as a recovery code."
)
CODE = "A 6-digit authenticator code, or a recovery code (`xxxxx-xxxxx`; case, spaces and dashes do not count)."
FactorName = Literal["totp", "recovery_code"]


class ChallengeView(ResponseModel):
    """A sign-in that needs another step (answered `202`): no session is set. With `enrol` false, answer with
    one of `factors` at `…/login/factor`; with `enrol` true (the policy requires a factor and the account has
    none), only `…/login/enrol/totp` and `…/login/enrol/totp/confirm` accept it."""

    challenge: str = Field(description="Single use, valid for `expiresIn` seconds. Never logged.")
    factors: list[str] = Field(description="`totp`, `recovery_code` (and later `webauthn`).")
    enrol: bool
    expires_in: int


class FactorAnswer(RequestModel):
    challenge: str = ChallengeToken
    factor: FactorName | None = Field(default=None, description=FACTOR_NAME)
    code: str = Field(min_length=1, max_length=64, description=CODE)


class StepUp(RequestModel):
    factor: FactorName | None = Field(default=None, description=FACTOR_NAME)
    code: str = Field(min_length=1, max_length=64, description=CODE)


class SteppedUp(ResponseModel):
    elevated_until: datetime = Field(description="Sensitive changes are allowed in this session until then.")


class NewTotp(RequestModel):
    label: str | None = Field(default=None, min_length=1, max_length=100, description="A name to tell it apart.")


class EnrolTotp(RequestModel):
    challenge: str = ChallengeToken
    label: str | None = Field(default=None, min_length=1, max_length=100, description="A name to tell it apart.")


class ConfirmTotp(RequestModel):
    code: str = Field(min_length=1, max_length=64, description="The authenticator's current 6-digit code.")


class ConfirmEnrolment(RequestModel):
    challenge: str = ChallengeToken
    factor_id: uuid.UUID
    code: str = Field(min_length=1, max_length=64, description="The authenticator's current 6-digit code.")


class TotpSetupView(ResponseModel):
    """Shown once: the secret is not shown again. Confirm with a first code to enrol it."""

    factor_id: uuid.UUID
    kind: Literal["totp"] = "totp"
    secret: str = Field(description="Base32, for typing into an authenticator app.")
    uri: str = Field(description="An `otpauth://totp/…` URI (RFC 6238, SHA-1, 6 digits, 30 s).")
    qr_svg: str = Field(description="The URI as a QR code: an SVG document drawn by Sump.")


class FactorView(ResponseModel):
    id: uuid.UUID
    kind: str
    label: str | None = None
    created_at: datetime
    confirmed_at: datetime | None = None
    last_used_at: datetime | None = None

    @classmethod
    def of(cls, factor: Factor) -> FactorView:
        return cls.model_validate(factor)


class FactorsView(ResponseModel):
    factors: list[FactorView]
    recovery_codes_left: int


class Enrolled(ResponseModel):
    factor: FactorView
    recovery_codes: list[str] | None = Field(
        default=None, description="With the first factor only: ten one-time codes, shown this once."
    )


class RecoveryCodes(ResponseModel):
    recovery_codes: list[str] = Field(description="Ten one-time codes, shown this once; the old ones stop working.")


class EnrolledSignIn(SignedIn):
    """The answer of `/login`, plus the recovery codes of the factor just enrolled (shown this once)."""

    recovery_codes: list[str] | None = None


class FactorsReset(ResponseModel):
    removed: int
