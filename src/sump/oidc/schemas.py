"""What the OpenID Provider's endpoints take and answer, for the document: the authorization and end-session
parameters (read by the flow itself, which answers errors the protocol's way), userinfo and discovery."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def _query(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    schema = {"type": "string", "maxLength": 4096}
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


AUTHORIZE_PARAMETERS = [
    _query("client_id", "A client of this environment (an application)."),
    _query("redirect_uri", "One of the client's registered redirect URIs (loopback ones on any port)."),
    _query("response_type", "`code`, the only one."),
    _query("scope", "Space-separated; must contain `openid`; unknown scopes are ignored."),
    _query("state", "Echoed back to the client."),
    _query("nonce", "Carried into the ID token."),
    _query("code_challenge", "PKCE (RFC 7636): BASE64URL(SHA-256(code_verifier))."),
    _query("code_challenge_method", "`S256`, the only one."),
    _query("prompt", "`none`, or `login` and/or `consent`."),
    _query("max_age", "Seconds: an older sign-in is asked again."),
    _query("login_hint", "Passed to the hosted sign-in page."),
]
END_SESSION_PARAMETERS = [
    _query("id_token_hint", "An ID token this environment issued (expired ones are accepted).", required=True),
    _query("client_id", "The client, when there is no id_token_hint."),
    _query("post_logout_redirect_uri", "Registered for the client; without it, the hosted signed-out page."),
    _query("state", "Echoed to the post_logout_redirect_uri."),
]


MAX_VALUE = 4096  # the longest field a form of these endpoints may hold


def _form(required: tuple[str, ...] = (), **fields: str) -> dict[str, Any]:
    properties = {
        name: {"type": "string", "maxLength": MAX_VALUE, "description": text} for name, text in fields.items()
    }
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": schema}}}}


END_SESSION_FORM = _form(("id_token_hint",), **{str(p["name"]): str(p["description"]) for p in END_SESSION_PARAMETERS})
AUTHORIZE_FORM = _form((), **{str(p["name"]): str(p["description"]) for p in AUTHORIZE_PARAMETERS})
USERINFO_FORM = _form(access_token="The access token, when it is not sent as `Authorization: Bearer`.")  # noqa: S106


class UserInfo(BaseModel):
    """`sub`, and the claims of the granted scopes (profile: name, preferred_username; email: email,
    email_verified; phone: phone_number, phone_number_verified)."""

    model_config = ConfigDict(extra="allow")

    sub: str


class Discovery(BaseModel):
    """OpenID Provider metadata (OpenID Connect Discovery 1.0 §3)."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    response_types_supported: list[str] = Field(min_length=1)
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
