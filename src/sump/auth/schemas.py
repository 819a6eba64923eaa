"""The token endpoint's request (each grant's fields, stated in the document) and its `mfa_required` refusal:
the grants are sign-in steps (`sump.auth.grants`), so their shapes live here, beside them."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sump.accounts.schemas import Login
from sump.factors.schemas import AssertionCredential, FactorName
from sump.kit.identifiers import Email, Phone, Username
from sump.kit.schemas import Password, RequestModel, ResponseModel
from sump.tokens.schemas import RevokeRequest

MFA_GRANT = "urn:sump:params:oauth:grant-type:mfa"
IDENTIFIERS = ("email", "phone", "username")


def _given(*names: str, kind: str = "string") -> dict[str, Any]:
    """The fields are there, and not null."""
    return {"required": list(names), "properties": {name: {"type": kind} for name in names}}


def _when(grant: str, then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {"grantType": {"const": grant}}, "required": ["grantType"]}, "then": then}


# What each grant needs, stated in the document as `_grant_fields` checks it.
GRANT_FIELDS: dict[str, Any] = {
    "allOf": [
        _when("password", {**_given("password"), "anyOf": [_given(name) for name in IDENTIFIERS]}),
        _when("refresh_token", _given("refreshToken")),
        _when(MFA_GRANT, {**_given("challenge"), "oneOf": [_given("code"), _given("credential", kind="object")]}),
    ]
}


class TokenRequest(RequestModel):
    """`password`: identifier and password; `session`: the caller's current session; `refresh_token`: rotate."""

    model_config = ConfigDict(json_schema_extra=GRANT_FIELDS)

    grant_type: Literal["password", "session", "refresh_token", "urn:sump:params:oauth:grant-type:mfa"] = Field(
        description="`urn:sump:params:oauth:grant-type:mfa` answers the `mfa_required` refusal of a password "
        "grant: `challenge` from it and `code` of a second factor (or a recovery code), or `credential`, a "
        "passkey's assertion."
    )
    email: Email | None = None
    phone: Phone | None = None
    username: Username | None = None
    password: Password | None = None
    refresh_token: str | None = Field(default=None, min_length=1, max_length=256)
    organization_id: uuid.UUID | None = None
    challenge: str | None = Field(default=None, min_length=1, max_length=256, description="Of `mfa_required`.")
    factor: FactorName | None = Field(
        default=None, description="Which factor answers; left out, six digits are a TOTP code."
    )
    code: str | None = Field(default=None, min_length=1, max_length=64, description="A second factor's code.")
    credential: AssertionCredential | None = Field(
        default=None, description="A passkey's assertion (`factor` `webauthn`, after `…/login/factor/options`)."
    )

    @model_validator(mode="after")
    def _grant_fields(self) -> TokenRequest:
        if self.grant_type == MFA_GRANT and (not self.challenge or (self.code is None) == (self.credential is None)):
            raise ValueError("The mfa grant needs challenge, and code or credential (not both)")
        if self.grant_type == "password" and (
            self.password is None or (self.email is None and self.phone is None and self.username is None)
        ):
            raise ValueError("The password grant needs an identifier and a password")
        if self.grant_type == "refresh_token" and not self.refresh_token:
            raise ValueError("The refresh_token grant needs refreshToken")
        return self

    def login(self) -> Login:
        return Login.model_validate(
            {"email": self.email, "phone": self.phone, "username": self.username, "password": self.password}
        )


class MfaRequired(ResponseModel):
    """403 from a password grant whose account must give a second factor: problem details with the OAuth
    `error` and the challenge to answer with the `urn:sump:params:oauth:grant-type:mfa` grant (or, with
    `enrol`, the enrolment steps of `…/login/enrol/totp`)."""

    type: str
    title: str
    status: int
    detail: str
    message: str
    code: Literal["mfa_required"]
    error: Literal["mfa_required"]
    challenge: str
    factors: list[str]
    enrol: bool
    expires_in: int
    request_id: str


# --- the OAuth 2.0 side of the token endpoint, revocation and introspection (form bodies) -------------------


class OAuthTokenForm(BaseModel):
    """An OAuth 2.0 token request (RFC 6749 §4.1.3, §6), form-encoded. The client authenticates with HTTP
    Basic (`client_secret_basic`) or `client_id` and `client_secret` here (`client_secret_post`); a public client
    sends `client_id` alone. `client_credentials` is for an environment's machine clients (`scope`: some of
    its permissions). Unknown parameters are ignored, as the RFC says."""

    grant_type: Literal["authorization_code", "refresh_token", "client_credentials"]
    code: str | None = Field(default=None, max_length=256)
    redirect_uri: str | None = Field(default=None, max_length=2048)
    code_verifier: str | None = Field(default=None, max_length=128, description="PKCE (RFC 7636), always S256.")
    refresh_token: str | None = Field(default=None, max_length=256)
    scope: str | None = Field(default=None, max_length=1024)
    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=256)


class OAuthTokenResponse(BaseModel):
    """RFC 6749 §5.1, with OpenID Connect's `id_token` for the authorization code grant."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    refresh_token: str | None = None
    id_token: str | None = None
    scope: str | None = None


class RevocationForm(BaseModel):
    """RFC 7009: the token, with the client's authentication when it was issued to a client."""

    token: str = Field(max_length=256)
    token_type_hint: Literal["refresh_token", "access_token"] | None = None
    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=256)


class IntrospectionForm(BaseModel):
    """RFC 7662: the token; a confidential client authenticates (HTTP Basic, or `client_id` and `client_secret`)."""

    token: str = Field(max_length=4096)
    token_type_hint: Literal["refresh_token", "access_token"] | None = None
    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=256)


class Introspection(BaseModel):
    """RFC 7662 §2.2: `active`, and for an active token what it says."""

    model_config = ConfigDict(extra="allow")

    active: bool


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's schema for a request body the route reads itself; nested models are the document's own."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


def _body(**content: type[BaseModel]) -> dict[str, Any]:
    types = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
    return {
        "requestBody": {
            "required": True,
            "content": {types[kind]: {"schema": _schema(model)} for kind, model in content.items()},
        }
    }


TOKEN_BODY = _body(json=TokenRequest, form=OAuthTokenForm)
REVOCATION_BODY = _body(json=RevokeRequest, form=RevocationForm)
INTROSPECTION_BODY = _body(form=IntrospectionForm)
