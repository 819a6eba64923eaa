from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from sump.db.tables.factors import CREDENTIAL_ID_LENGTH, Factor
from sump.kit.identifiers import Email, Phone, Username
from sump.kit.schemas import Label, Password, RequestModel, ResponseModel, omit_null
from sump.sessions.schemas import SignedIn

ChallengeToken = Field(min_length=1, max_length=256, description="The challenge of the step before.")
FACTOR_NAME = (
    "Which factor answers: `totp` (an authenticator code), `recovery_code`, or `webauthn` (with `credential`). "
    "Left out, six digits are read as a TOTP code and anything else as a recovery code."
)
CODE = "A 6-digit authenticator code, or a recovery code (`xxxxx-xxxxx`; case, spaces and dashes do not count)."
FactorName = Literal["totp", "recovery_code", "webauthn"]


class ChallengeView(ResponseModel):
    """A sign-in that needs another step (answered `202`): no session is set. With `enrol` false, answer with
    one of `factors` at `…/login/factor`; with `enrol` true (the policy requires a factor and the account has
    none), only `…/login/enrol/totp` and `…/login/enrol/totp/confirm` accept it."""

    challenge: str = Field(description="Single use, valid for `expiresIn` seconds. Never logged.")
    factors: list[str] = Field(description="`totp`, `webauthn` (a passkey), `recovery_code`.")
    enrol: bool
    expires_in: int


B64URL = r"^[A-Za-z0-9_-]*$"


def _b64_args(max_length: int, description: str) -> dict[str, Any]:
    return {"min_length": 1, "max_length": max_length, "pattern": B64URL, "description": description + " (base64url)."}


def _b64(max_length: int, description: str) -> Any:
    return Field(**_b64_args(max_length, description))


class AttestationResponse(RequestModel):
    client_data_json: str = Field(alias="clientDataJSON", **_b64_args(4096, "The client data the browser made"))
    attestation_object: str = _b64(16384, "The authenticator's attestation object")
    transports: list[Annotated[str, Field(max_length=32)]] | None = Field(default=None, max_length=8)
    public_key_algorithm: int | None = None
    public_key: str | None = Field(default=None, max_length=4096, pattern=B64URL)
    authenticator_data: str | None = Field(default=None, max_length=16384, pattern=B64URL)


class AssertionResponse(RequestModel):
    client_data_json: str = Field(alias="clientDataJSON", **_b64_args(4096, "The client data the browser made"))
    authenticator_data: str = _b64(4096, "The authenticator data it signed")
    signature: str = _b64(1024, "Its signature over the authenticator data and the client data's hash")
    user_handle: str | None = Field(
        default=None, max_length=128, pattern=B64URL, description="The account a discoverable passkey was made for."
    )


class _Credential(RequestModel):
    id: str = _b64(CREDENTIAL_ID_LENGTH, "The credential id")
    raw_id: str = _b64(CREDENTIAL_ID_LENGTH, "The credential id")
    type: Literal["public-key"]
    authenticator_attachment: Literal["platform", "cross-platform"] | None = None
    client_extension_results: dict[str, Any] = Field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The credential in the WebAuthn JSON that py_webauthn reads."""
        return self.model_dump(by_alias=True, exclude_none=True)


class RegistrationCredential(_Credential):
    """What `navigator.credentials.create()` answered, as `PublicKeyCredential.toJSON()` writes it."""

    response: AttestationResponse


class AssertionCredential(_Credential):
    """What `navigator.credentials.get()` answered, as `PublicKeyCredential.toJSON()` writes it."""

    response: AssertionResponse


ONE_ANSWER = "Give `code`, or `credential` (a passkey's assertion), not both."


class FactorAnswer(RequestModel):
    """A code of one of the account's factors, or a passkey's assertion (`factor` `webauthn`, after
    `…/login/factor/options`)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["code"]}, {"required": ["credential"]}]})

    challenge: str = ChallengeToken
    factor: FactorName | None = Field(default=None, description=FACTOR_NAME)
    code: str | None = Field(default=None, min_length=1, max_length=64, description=CODE, json_schema_extra=omit_null)
    credential: AssertionCredential | None = Field(default=None, json_schema_extra=omit_null)

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.code is None) == (self.credential is None):
            raise ValueError(ONE_ANSWER)
        return self


class StepUp(RequestModel):
    """A code of one of the account's factors, or a passkey's assertion (after `…/step-up/passkey/options`); for
    an account without a second factor, its current password."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["code"]}, {"required": ["credential"]}, {"required": ["currentPassword"]}]
        }
    )

    factor: FactorName | None = Field(default=None, description=FACTOR_NAME)
    code: str | None = Field(default=None, min_length=1, max_length=64, description=CODE, json_schema_extra=omit_null)
    credential: AssertionCredential | None = Field(default=None, json_schema_extra=omit_null)
    current_password: Password | None = Field(
        default=None, description="An account without a second factor steps up with it.", json_schema_extra=omit_null
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if [self.code, self.credential, self.current_password].count(None) != 2:
            raise ValueError("Give one of `code`, `credential` (a passkey's assertion) or `currentPassword`.")
        return self


class ChallengeOnly(RequestModel):
    challenge: str = ChallengeToken


class NewPasskey(RequestModel):
    credential: RegistrationCredential
    label: Label | None = Field(default=None, description="A name to tell it apart.")


class PasskeyLoginOptions(RequestModel):
    """Left empty, the options are username-less; with an identifier, they name that account's passkeys."""

    email: Email | None = Field(default=None, json_schema_extra=omit_null)
    phone: Phone | None = Field(default=None, json_schema_extra=omit_null)
    username: Username | None = Field(default=None, json_schema_extra=omit_null)

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may be left out, but not null")
        return self


class PasskeySignIn(RequestModel):
    credential: AssertionCredential


class PasskeyOptions(ResponseModel):
    """Options for `navigator.credentials.create()` or `.get()`, in the WebAuthn JSON form
    (`PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`; binary members are
    base64url). Its challenge is single use and bound to this pool (and account, when one is known)."""

    public_key: dict[str, Any] = Field(description="PublicKeyCredentialCreationOptionsJSON or RequestOptionsJSON.")
    expires_in: int


class SteppedUp(ResponseModel):
    elevated_until: datetime = Field(description="Sensitive changes are allowed in this session until then.")


class NewTotp(RequestModel):
    label: Label | None = Field(default=None, description="A name to tell it apart.")


class EnrolTotp(RequestModel):
    challenge: str = ChallengeToken
    label: Label | None = Field(default=None, description="A name to tell it apart.")


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
