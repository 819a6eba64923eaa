from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictBool, StringConstraints, field_validator, model_validator

from sump.db.tables.environments import Environment
from sump.db.tables.factors import FactorPolicy
from sump.kit.custom_properties import CustomProperties, readable
from sump.kit.relying_party import DOMAIN, PORT, Origins, OriginsChange, RpId, origins_outside
from sump.kit.schemas import ChangeModel, ContainerName, Omittable, RequestModel, ResponseModel

ORDER_MESSAGE = "passwordMinLength must not exceed passwordMaxLength"
FACTOR_POLICY = (
    "Second factors of the end users: `off` (none may be enrolled; factors enrolled before still count), "
    "`optional` (accounts may enrol; those that did are asked for one at sign-in) or `required` (a sign-in of "
    "an account without a factor answers a challenge with `enrol: true` that only enrolment accepts)."
)

EMAIL_VERIFICATION = "Whether a sign-up emails a link (valid 24 hours) that verifies the end user's email."
REQUIRE_VERIFIED_EMAIL = (
    "Whether a sign-in needs a verified email: until then a right password answers 403 `email_unverified` "
    "(a wrong one answers 401 as always)."
)
MAGIC_LINKS = "Whether end users may sign in with an emailed single-use link (valid 15 minutes) instead of a password."
PASSKEY_RP_ID = (
    "The WebAuthn relying-party id of the application's passkeys: its domain (such as `example.com`, or "
    "`localhost` while developing), never an IP address. Passkeys are off until it and `passkeyOrigins` are set."
)
PASSKEY_ORIGINS_MESSAGE = "passkeyOrigins must be on passkeyRpId's domain or under it"
PASSKEY_ORIGINS = (
    "The origins (`https://app.example.com`; `http` only on localhost) of the pages that use passkeys, each on "
    "the relying-party id's domain or under it."
)
DISPLAY_NAME = "The application's name as the hosted sign-in pages show it (the environment's name when unset)."
LOGO_URL = (
    "The logo the hosted pages show above their forms: an `https` URL (`http` only on localhost, 127.0.0.1 or "
    "[::1], for development), without quotes, spaces or angle brackets."
)
PRIMARY_COLOR = "The colour of the hosted pages' buttons and links, as `#rrggbb`."
LOGO_PATTERN = (
    rf"^(?:https://(?:{DOMAIN}|[0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{3}})|http://(?:localhost|127\.0\.0\.1|\[::1\]))"
    rf"(?::{PORT})?(?:/[A-Za-z0-9._~!$&()*+,;=:@%/?-]*)?$"
)
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$")]
LogoUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=LOGO_PATTERN)]
PrimaryColor = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$"), AfterValidator(str.lower)]


class EnvironmentSettings(RequestModel):
    """Rules for the end users of one environment."""

    signup_enabled: StrictBool = Field(default=True, description="Whether end users may sign up themselves.")
    password_min_length: int = Field(default=8, ge=8, le=128)
    password_max_length: int = Field(default=128, ge=8, le=1024)
    factor_policy: FactorPolicy = Field(default=FactorPolicy.OPTIONAL, description=FACTOR_POLICY)
    email_verification: StrictBool = Field(default=True, description=EMAIL_VERIFICATION)
    require_verified_email: StrictBool = Field(default=False, description=REQUIRE_VERIFIED_EMAIL)
    magic_links_enabled: StrictBool = Field(default=False, description=MAGIC_LINKS)
    passkey_rp_id: RpId | None = Field(default=None, description=PASSKEY_RP_ID)
    passkey_origins: Origins = Field(default_factory=list, description=PASSKEY_ORIGINS)
    display_name: DisplayName | None = Field(default=None, description=DISPLAY_NAME)
    logo_url: LogoUrl | None = Field(default=None, description=LOGO_URL)
    primary_color: PrimaryColor | None = Field(default=None, description=PRIMARY_COLOR)

    @model_validator(mode="after")
    def _ordered(self) -> EnvironmentSettings:
        if self.password_min_length > self.password_max_length:
            raise ValueError(ORDER_MESSAGE)
        return self

    @model_validator(mode="after")
    def _passkeys(self) -> EnvironmentSettings:
        self.check_passkey_origins()
        return self

    def check_passkey_origins(self) -> None:
        outside = origins_outside(self.passkey_rp_id, self.passkey_origins) if self.passkey_rp_id else []
        if outside:  # by their places, never their text (nothing from the request is echoed)
            places = ", ".join(str(n) for n, origin in enumerate(self.passkey_origins, 1) if origin in outside)
            raise ValueError(f"{PASSKEY_ORIGINS_MESSAGE} (not so: entries {places} of the list)")


class EnvironmentSettingsChange(ChangeModel):
    """Settings to change; the ones left out keep their current values."""

    signup_enabled: Omittable[StrictBool] = Field(default=None, description="Whether end users may sign up themselves.")
    password_min_length: Omittable[Annotated[int, Field(ge=8, le=128)]] = None
    password_max_length: Omittable[Annotated[int, Field(ge=8, le=1024)]] = None
    factor_policy: Omittable[FactorPolicy] = Field(default=None, description=FACTOR_POLICY)
    email_verification: Omittable[StrictBool] = Field(default=None, description=EMAIL_VERIFICATION)
    require_verified_email: Omittable[StrictBool] = Field(default=None, description=REQUIRE_VERIFIED_EMAIL)
    magic_links_enabled: Omittable[StrictBool] = Field(default=None, description=MAGIC_LINKS)
    passkey_rp_id: RpId | None = Field(default=None, description=PASSKEY_RP_ID)
    passkey_origins: OriginsChange = Field(default=None, description=PASSKEY_ORIGINS)
    display_name: DisplayName | None = Field(default=None, description=DISPLAY_NAME + " null clears it.")
    logo_url: LogoUrl | None = Field(default=None, description=LOGO_URL + " null clears it.")
    primary_color: PrimaryColor | None = Field(default=None, description=PRIMARY_COLOR + " null clears it.")

    @field_validator("passkey_origins")
    @classmethod
    def _origins_not_null(cls, value: list[str] | None) -> list[str]:
        if value is None:
            raise ValueError("passkeyOrigins may be left out, but not null: [] clears it")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> EnvironmentSettingsChange:
        if (
            self.password_min_length is not None
            and self.password_max_length is not None
            and self.password_min_length > self.password_max_length
        ):
            raise ValueError(ORDER_MESSAGE)
        return self

    def applied_to(self, current: EnvironmentSettings) -> EnvironmentSettings:
        """`current` with these changes; ValueError when the result puts the minimum above the maximum or a
        passkey origin outside the relying-party id."""
        merged = current.model_copy(update=self.model_dump(exclude_unset=True))
        if merged.password_min_length > merged.password_max_length:
            raise ValueError(ORDER_MESSAGE)
        merged.check_passkey_origins()
        return merged


class EnvironmentCreate(RequestModel):
    name: ContainerName
    custom_properties: CustomProperties | None = None
    settings: EnvironmentSettings | None = None


class EnvironmentUpdate(ChangeModel):
    name: Omittable[ContainerName] = None
    settings: Omittable[EnvironmentSettingsChange] = Field(
        default=None, description="Only the settings given change; the others keep their values."
    )


class EnvironmentView(ResponseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    custom_properties: dict[str, Any]
    settings: EnvironmentSettings
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, environment: Environment) -> EnvironmentView:
        return cls(
            id=environment.id,
            tenant_id=environment.tenant_id,
            name=environment.name,
            custom_properties=readable(environment.custom_properties),
            settings=EnvironmentSettings.model_validate(environment.settings),
            created_at=environment.created_at,
            updated_at=environment.updated_at,
        )
