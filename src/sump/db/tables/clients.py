"""OAuth 2.0 / OpenID Connect clients and what the authorization flow keeps between its steps.

A client belongs to one environment (its applications and machine clients, under the environment's issuer) or,
for a tenant's automation clients of Sump's own admin API, to the tenant alone (`environment_id` null). Its
public identifier is `client_id`; confidential clients hold secrets, stored as their SHA-256 (they are 256-bit
random), several at once while a rotation overlaps.

Every token here (authorization request, code) is random, shown once, stored as its SHA-256, bound to its
environment and client, short-lived and used once: the step that redeems it marks it with a conditional UPDATE,
so of concurrent redemptions exactly one wins."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, JSONType, Timestamps, utcnow, uuid7


class ClientKind(StrEnum):
    CONFIDENTIAL = "confidential"  # authenticates with a secret (client_secret_basic or client_secret_post)
    PUBLIC = "public"  # a SPA or native app: no secret, PKCE required


class ClientPurpose(StrEnum):
    APPLICATION = "application"  # an environment's app: authorization code with PKCE, refresh tokens
    MACHINE = "machine"  # an environment's back end: client_credentials for the builder's own APIs
    AUTOMATION = "automation"  # a tenant's script: client_credentials for Sump's admin API of that tenant


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class Client(Timestamps, Base):
    __tablename__ = "client"
    __table_args__ = (Index("ix_client_tenant_environment", "tenant_id", "environment_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    environment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"))
    purpose: Mapped[ClientPurpose] = mapped_column(
        Enum(ClientPurpose, native_enum=False, length=16, values_callable=_values)
    )
    kind: Mapped[ClientKind] = mapped_column(Enum(ClientKind, native_enum=False, length=16, values_callable=_values))
    name: Mapped[str] = mapped_column(String(100))
    redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)  # the scopes it may ask for
    first_party: Mapped[bool] = mapped_column(default=True)  # a first-party client's sign-ins ask no consent
    audience: Mapped[str | None] = mapped_column(String(512))  # a machine client's tokens' `aud`
    permissions: Mapped[list[str]] = mapped_column(JSONType, default=list)  # of machine and automation clients
    # An application's ID tokens' algorithm (ES256 or RS256); null for clients that get no ID token.
    id_token_signed_response_alg: Mapped[str | None] = mapped_column(String(8))
    created_by: Mapped[uuid.UUID | None]  # the tenant account (no foreign key: the client outlives it)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")

    @property
    def scopes_allowed(self) -> frozenset[str]:
        """What its tokens may carry as its registration stands now: `openid`, always, and its scopes."""
        return frozenset({"openid", *self.scopes})


class ClientSecret(Base):
    """One secret of a confidential client. A rotation gives the old ones an `expires_at` (the overlap)."""

    __tablename__ = "client_secret"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    client_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]


class ClientToken(Base):
    """An automation client's opaque bearer token for Sump's admin API of its tenant, stored as its SHA-256. It
    counts only while the secret it was obtained with does: deleting the client, or rotating its secret without
    overlap, ends it at once."""

    __tablename__ = "client_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    secret_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_secret.id", ondelete="CASCADE"), index=True)
    permissions: Mapped[list[str]] = mapped_column(JSONType, default=list)  # asked at issue; the client's count
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class AuthorizationRequest(Base):
    """A validated authorization request waiting for its end user (sign-in, second factor, consent): the hosted
    pages carry its token, and finishing it issues the code. Its parameters are the validated ones only."""

    __tablename__ = "authorization_request"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"), index=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    parameters: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuthorizationCode(Base):
    """A code issued to a client: bound to it, its redirect URI and PKCE challenge; 60 s, single use. A replay
    revokes the refresh-token family it issued (`family_id`) and ends its session."""

    __tablename__ = "authorization_code"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"), index=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment_account.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(String(1024))
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str] = mapped_column(String(128))
    auth_time: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    family_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(Timestamps, Base):
    """The scopes an end user granted a third-party client; asked again only for scopes beyond these."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("account_id", "client_pk"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    environment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("environment_account.id", ondelete="CASCADE"))
    client_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
