"""Request and response models of clients. Redirect URIs follow `clients.redirects`; which grant types, scopes
and permissions a client may hold follows its purpose (checked here where the body alone decides, and against
the environment's permission catalog in the service)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictBool, StringConstraints

from sump.clients import redirects
from sump.db.tables.clients import Client, ClientKind, ClientPurpose
from sump.kit.schemas import ChangeModel, ContainerName, Omittable, RequestModel, ResponseModel

# The scopes an application may ask for (OpenID Connect's standard ones and refresh tokens).
OIDC_SCOPES = ("openid", "profile", "email", "phone", "offline_access")
# What an automation client may be granted on its tenant, and the tenant role whose holders may grant it.
AUTOMATION_PERMISSIONS = {
    "environments:read": "user",
    "environments:write": "admin",
    "end_users:read": "user",
    "end_users:write": "admin",
    "organizations:read": "user",
    "organizations:write": "admin",
    "audit:read": "admin",
}
GRANT_TYPES = {
    ClientPurpose.APPLICATION: ("authorization_code", "refresh_token"),
    ClientPurpose.MACHINE: ("client_credentials",),
    ClientPurpose.AUTOMATION: ("client_credentials",),
}
DEFAULT_OVERLAP = 24 * 3600
MAX_OVERLAP = 30 * 24 * 3600


def _registrable(uris: list[str]) -> list[str]:
    for uri in uris:
        reason = redirects.problem(uri)
        if reason is not None:
            raise ValueError(f"Each URI {reason}")
    if len(set(uris)) != len(uris):
        raise ValueError("Each URI is listed once")
    return uris


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("Each value is listed once")
    return values


def _with_code(values: list[str]) -> list[str]:
    if "authorization_code" not in values:
        raise ValueError("An application's grant types include authorization_code")
    return values


UNIQUE = Field(json_schema_extra={"uniqueItems": True})


RedirectUri = Annotated[
    str,
    StringConstraints(min_length=8, max_length=redirects.MAX_LENGTH),
    Field(json_schema_extra={"pattern": redirects.PATTERN}),
]
RedirectUris = Annotated[
    list[RedirectUri],
    UNIQUE,
    Field(
        max_length=20,
        description=(
            "Exact redirect URIs: absolute `https` URLs without fragment, or `http` on 127.0.0.1, [::1] or "
            "localhost (which match on any port, RFC 8252). No wildcards."
        ),
    ),
    AfterValidator(_registrable),
]
Scope = Literal["openid", "profile", "email", "phone", "offline_access"]
Scopes = Annotated[list[Scope], Field(max_length=5), UNIQUE, AfterValidator(_distinct)]
PermissionName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9_.:-]+$")]
Permissions = Annotated[list[PermissionName], Field(max_length=100), UNIQUE, AfterValidator(_distinct)]
AutomationPermission = Literal[
    "environments:read",
    "environments:write",
    "end_users:read",
    "end_users:write",
    "organizations:read",
    "organizations:write",
    "audit:read",
]
AutomationPermissions = Annotated[list[AutomationPermission], Field(max_length=7), UNIQUE, AfterValidator(_distinct)]
GrantType = Literal["authorization_code", "refresh_token"]
ApplicationGrants = Annotated[
    list[GrantType],
    Field(
        min_length=1, max_length=2, json_schema_extra={"uniqueItems": True, "contains": {"const": "authorization_code"}}
    ),
    AfterValidator(_distinct),
    AfterValidator(_with_code),
]
GRANTS = "`authorization_code`, with `refresh_token` (the default) or without."
# Printable ASCII without spaces (a URI, or an identifier): a class such as `\S` means other characters to the
# server's regular expressions than to a client's generator (U+0085 is whitespace to one, not to the other).
Audience = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[!-~]+$")]


def _openid() -> list[Scope]:
    return ["openid"]


def _both_grants() -> list[GrantType]:
    return ["authorization_code", "refresh_token"]


IdTokenAlgorithm = Literal["ES256", "RS256"]
SIGNED_WITH = (
    "The algorithm of the application's ID tokens (OpenID Connect Registration's `id_token_signed_response_alg`): "
    "RS256, the default every relying-party library accepts, or ES256. Access tokens are ES256 either way."
)
FIRST_PARTY = "First-party applications sign their end users in without asking consent; third-party ones ask it."
AUDIENCE = "A machine client's access tokens' `aud`: the builder's API that accepts them."
PERMISSIONS = "A machine client's permissions: names from the environment's permission catalog."


class ApplicationCreate(RequestModel):
    """An application of the environment: the authorization code flow with PKCE (a public client, such as a SPA
    or a native app, has no secret)."""

    purpose: Literal[ClientPurpose.APPLICATION]
    name: ContainerName
    kind: ClientKind = Field(default=ClientKind.CONFIDENTIAL, description="A public client has no secret.")
    redirect_uris: Annotated[RedirectUris, Field(min_length=1)]
    post_logout_redirect_uris: RedirectUris = Field(default_factory=list)
    grant_types: ApplicationGrants = Field(default_factory=_both_grants, description=GRANTS)
    scopes: Scopes = Field(default_factory=_openid, description="The scopes the application may ask.")
    first_party: StrictBool = Field(default=True, description=FIRST_PARTY)
    id_token_signed_response_alg: IdTokenAlgorithm = Field(default="RS256", description=SIGNED_WITH)


class MachineCreate(RequestModel):
    """A machine client of the environment: client_credentials for the builder's own API; always confidential."""

    purpose: Literal[ClientPurpose.MACHINE]
    name: ContainerName
    audience: Audience = Field(description=AUDIENCE)
    permissions: Permissions = Field(default_factory=list, description=PERMISSIONS)


ClientCreate = Annotated[ApplicationCreate | MachineCreate, Field(discriminator="purpose")]


class ClientUpdate(ChangeModel):
    """What to change; what is left out keeps its value. An application changes its redirect URIs, grant types,
    scopes, first party and ID tokens' algorithm; a machine client its audience and permissions; both their
    name."""

    name: Omittable[ContainerName] = None
    redirect_uris: Omittable[Annotated[RedirectUris, Field(min_length=1)]] = None
    post_logout_redirect_uris: Omittable[RedirectUris] = None
    grant_types: Omittable[ApplicationGrants] = Field(default=None, description=GRANTS)
    scopes: Omittable[Scopes] = None
    first_party: Omittable[StrictBool] = Field(default=None, description=FIRST_PARTY)
    id_token_signed_response_alg: Omittable[IdTokenAlgorithm] = Field(default=None, description=SIGNED_WITH)
    audience: Omittable[Audience] = Field(default=None, description=AUDIENCE)
    permissions: Omittable[Permissions] = Field(default=None, description=PERMISSIONS)


class AutomationClientCreate(RequestModel):
    """A tenant's automation client for Sump's admin API of that tenant, with the permissions it is granted."""

    name: ContainerName
    permissions: AutomationPermissions = Field(min_length=1)


class AutomationClientUpdate(ChangeModel):
    name: Omittable[ContainerName] = None
    permissions: Omittable[Annotated[AutomationPermissions, Field(min_length=1)]] = None


class SecretRotation(RequestModel):
    overlap_seconds: int = Field(
        default=DEFAULT_OVERLAP,
        ge=0,
        le=MAX_OVERLAP,
        description="How long the previous secrets stay valid (default 24 hours; 0 ends them at once).",
    )


class ClientView(ResponseModel):
    id: uuid.UUID
    client_id: str = Field(description="The public identifier the client presents (`client_id`).")
    tenant_id: uuid.UUID
    environment_id: uuid.UUID | None
    purpose: ClientPurpose
    kind: ClientKind
    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]
    first_party: bool
    id_token_signed_response_alg: str | None = Field(description="An application's ID tokens' algorithm; else null.")
    audience: str | None
    permissions: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, client: Client) -> ClientView:
        return cls.model_validate(client)


class ClientCreated(ClientView):
    client_secret: str | None = Field(description="Shown this once; null for a public client.")


class NewSecret(ResponseModel):
    client_id: str
    client_secret: str = Field(description="Shown this once.")
    previous_secrets_expire_at: datetime = Field(description="When the secrets before this one stop working.")


class AutomationTokenRequest(RequestModel):
    """The client_credentials grant of a tenant's automation client, as JSON (camelCase); the same request may be
    sent form-encoded with RFC 6749's names (`grant_type`, `scope`, `client_id`, `client_secret`). The client
    authenticates with HTTP Basic (`client_secret_basic`) or its id and secret in the body
    (`client_secret_post`)."""

    grant_type: Literal["client_credentials"]
    scope: str | None = Field(default=None, max_length=1024, description="Permissions asked, space-separated.")
    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=256)


class AutomationTokenForm(BaseModel):
    """The same request form-encoded (RFC 6749 §4.4)."""

    grant_type: Literal["client_credentials"]
    scope: str | None = Field(default=None, max_length=1024)
    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=256)


class ClientTokenResponse(BaseModel):
    """RFC 6749 §5.1: no refresh token."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
