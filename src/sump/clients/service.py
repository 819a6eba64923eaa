"""Clients of an environment (applications, machine clients) and of a tenant (automation clients): registration
with the secret shown once, reading, changes, deletion, secret rotation with overlap, and client
authentication.

Public identifiers are `sump_` and 128 random bits; secrets are 256-bit random, stored as SHA-256. A rotation
gives the previous secrets an end (the overlap, 24 hours by default, 0 to end them at once); `authenticate`
accepts any secret of the client that has not ended, and costs the same for an unknown client as for a wrong
secret."""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import Verdict, require
from sump.clients import policy, repository
from sump.clients.schemas import (
    AUTOMATION_PERMISSIONS,
    GRANT_TYPES,
    ApplicationCreate,
    AutomationClientCreate,
    AutomationClientUpdate,
    ClientUpdate,
    MachineCreate,
)
from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.clients import Client, ClientKind, ClientPurpose, ClientSecret
from sump.db.tables.environments import Environment
from sump.environments import service as environments
from sump.kit import audit
from sump.kit.audit import Ref, ref
from sump.kit.crypto import new_token, token_digest
from sump.kit.errors import Problem, bad_request, not_found
from sump.organizations.service import catalog
from sump.sessions import service as sessions
from sump.tokens import clients as client_tokens
from sump.tokens import service as tokens

# What an unknown client's secret is compared with, so that it costs what a known one does.
_NO_SECRET = token_digest("no client has this secret")


def new_client_id() -> str:
    return f"sump_{secrets.token_hex(16)}"


@dataclass(frozen=True)
class Authenticated:
    """A client that proved itself, and the secret it used (None for a public client)."""

    client: Client
    secret: ClientSecret | None


# --- for the protocol endpoints -----------------------------------------------------------------------------


async def for_environment(db: AsyncSession, environment_id: uuid.UUID, client_id: str) -> Client | None:
    """A client (application or machine) of that environment by its public id."""
    return await repository.of_environment(db, environment_id, client_id)


async def prove(
    db: AsyncSession, environment_id: uuid.UUID | None, tenant_id: uuid.UUID, client_id: str, secret: str | None
) -> Authenticated | None:
    """The client, when `secret` is one of its live secrets (or None for a public client); None otherwise.
    `environment_id` None: the tenant's automation clients. An unknown client is compared against a secret no one
    has, so that it costs the same as a wrong secret."""
    client = await repository.by_client_id(db, tenant_id, environment_id, client_id[:64])
    now = utcnow()
    live = await repository.live_secrets(db, tenant_id, client.id if client else uuid.UUID(int=0), now)
    given = token_digest(secret or "")
    match: ClientSecret | None = None
    candidates: list[ClientSecret | None] = [*live] or [None]
    for candidate in candidates:
        expected = candidate.secret_hash if candidate is not None else _NO_SECRET
        if hmac.compare_digest(given, expected) and candidate is not None:
            match = candidate
    if client is None:
        return None
    if client.kind is ClientKind.PUBLIC:
        return Authenticated(client, None) if secret is None else None
    return Authenticated(client, match) if secret is not None and match is not None else None


async def authenticate(
    db: AsyncSession, environment_id: uuid.UUID | None, tenant_id: uuid.UUID, client_id: str, secret: str | None
) -> Client | None:
    """The client of the environment (or, with `environment_id` None, the tenant's automation client) when the
    secret is right (a public client: when there is none); None for an unknown client or a wrong or ended secret."""
    proven = await prove(db, environment_id, tenant_id, client_id, secret)
    return proven.client if proven is not None else None


# --- registration -------------------------------------------------------------------------------------------


async def _scope(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID | None) -> Environment | None:
    """An environment of the actor's tenant (404 otherwise); None is the tenant itself."""
    return None if environment_id is None else await environments.get(db, actor, environment_id)


async def _publish_keys_for(db: AsyncSession, settings: Settings, environment: Environment, client: Client) -> None:
    """The environment's keys of the application's ID-token algorithm, made now if it has none: the JWKS then
    publishes them before the first ID token, where every worker's kept JWKS has had time to follow."""
    if client.id_token_signed_response_alg is not None:
        await tokens.active_key(db, settings, environment, client.id_token_signed_response_alg)


def _step_up_for_automation(actor: TenantActor) -> None:
    """An automation client acts as an admin of the tenant: making one, widening what it may do or taking a new
    secret of one needs a step-up of an actor with a second factor, as granting an account that power does."""
    sessions.require_step_up(actor.session, actor.account)


def _rule(environment_id: uuid.UUID | None) -> policy.Rule:
    return policy.manage if environment_id is not None else policy.manage_automation


async def _known_permissions(
    db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, names: list[str]
) -> list[str]:
    catalog_names = {permission.name for permission in await catalog.permissions(db, actor, environment_id)}
    if not set(names) <= catalog_names:
        raise bad_request("unknown_permission", "Every permission must be in the environment's catalog.", "permissions")
    return sorted(names)


def _grantable(actor: TenantActor, permissions: Sequence[str]) -> list[str]:
    require(policy.grant(actor, permissions, AUTOMATION_PERMISSIONS))
    return sorted(permissions)


async def _new_secret(db: AsyncSession, client: Client) -> str:
    secret = new_token()
    await repository.add(db, ClientSecret(client_pk=client.id, secret_hash=token_digest(secret)))
    return secret


async def _register(db: AsyncSession, actor: TenantActor, client: Client) -> tuple[Client, str | None]:
    client.client_id, client.tenant_id, client.created_by = new_client_id(), actor.tenant_id, actor.account.id
    await repository.add(db, client)
    secret = await _new_secret(db, client) if client.kind is ClientKind.CONFIDENTIAL else None
    await _audit(db, actor, "client.created", client)
    return client, secret


async def create(
    db: AsyncSession,
    settings: Settings,
    actor: TenantActor,
    environment_id: uuid.UUID,
    body: ApplicationCreate | MachineCreate,
) -> tuple[Client, str | None]:
    """An environment's client, and its secret (shown once; None for a public client)."""
    require(policy.manage(actor))
    environment = await _scope(db, actor, environment_id)
    assert environment is not None
    if isinstance(body, MachineCreate):
        _check_audience(environment_id, body.audience)
        permissions = await _known_permissions(db, actor, environment_id, body.permissions) if body.permissions else []
        client = Client(
            purpose=ClientPurpose.MACHINE,
            kind=ClientKind.CONFIDENTIAL,
            redirect_uris=[],
            post_logout_redirect_uris=[],
            grant_types=list(GRANT_TYPES[ClientPurpose.MACHINE]),
            scopes=[],
            first_party=True,
            audience=body.audience,
            permissions=permissions,
        )
    else:
        client = Client(
            purpose=ClientPurpose.APPLICATION,
            kind=body.kind,
            redirect_uris=body.redirect_uris,
            post_logout_redirect_uris=body.post_logout_redirect_uris,
            grant_types=list(body.grant_types),
            scopes=list(body.scopes),
            first_party=body.first_party,
            id_token_signed_response_alg=body.id_token_signed_response_alg,
            audience=None,
            permissions=[],
        )
        await _publish_keys_for(db, settings, environment, client)
    client.environment_id, client.name = environment_id, body.name
    return await _register(db, actor, client)


async def create_automation(
    db: AsyncSession, actor: TenantActor, body: AutomationClientCreate
) -> tuple[Client, str | None]:
    """A tenant's automation client, and its secret (shown once)."""
    require(policy.manage_automation(actor))
    _step_up_for_automation(actor)
    client = Client(
        environment_id=None,
        purpose=ClientPurpose.AUTOMATION,
        kind=ClientKind.CONFIDENTIAL,
        name=body.name,
        redirect_uris=[],
        post_logout_redirect_uris=[],
        grant_types=list(GRANT_TYPES[ClientPurpose.AUTOMATION]),
        scopes=[],
        first_party=True,
        permissions=_grantable(actor, body.permissions),
    )
    return await _register(db, actor, client)


async def page(
    db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID | None, after: uuid.UUID | None, limit: int
) -> list[Client]:
    await _scope(db, actor, environment_id)
    return await repository.page(db, actor.tenant_id, environment_id, after, limit)


async def get(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID | None, pk: uuid.UUID) -> Client:
    await _scope(db, actor, environment_id)
    client = await repository.get(db, actor.tenant_id, environment_id, pk)
    if client is None:
        raise not_found("client")
    return client


def _not_applicable(client: Client, field: str) -> Problem:
    """A change the client's purpose does not have (an application's audience, a machine's redirect URIs)."""
    message = f"A {client.purpose.value} client has no {field} to change."
    return Problem(400, "client_field_not_applicable", message, errors={to_camel(field): message})


async def update(
    db: AsyncSession,
    settings: Settings,
    actor: TenantActor,
    environment_id: uuid.UUID | None,
    pk: uuid.UUID,
    body: ClientUpdate | AutomationClientUpdate,
) -> Client:
    require(_rule(environment_id)(actor))
    environment = await _scope(db, actor, environment_id)
    client = await get(db, actor, environment_id, pk)
    changes = body.model_dump(exclude_unset=True)
    if client.purpose is ClientPurpose.AUTOMATION and set(changes.get("permissions", ())) - set(client.permissions):
        _step_up_for_automation(actor)  # widened; a rename or a narrowing gives nothing
    allowed = _changeable(client)
    for field in changes:
        if field not in allowed:
            raise _not_applicable(client, field)
    if changes.get("audience") is not None and client.environment_id is not None:
        _check_audience(client.environment_id, changes["audience"])
    if "permissions" in changes:
        if client.purpose is ClientPurpose.AUTOMATION:
            changes["permissions"] = _grantable(actor, changes["permissions"])
        elif client.environment_id is not None:
            changes["permissions"] = await _known_permissions(db, actor, client.environment_id, changes["permissions"])
    if client.environment_id is not None and changes.get("first_party", client.first_party) != client.first_party:
        await client_tokens.revoke_held_by(db, client.environment_id, client.id)
    for field, value in changes.items():
        setattr(client, field, value)
    if environment is not None and "id_token_signed_response_alg" in changes:
        await _publish_keys_for(db, settings, environment, client)
    client.updated_at = utcnow()
    await _audit(db, actor, "client.updated", client, fields=sorted(changes))
    return client


def _check_audience(environment_id: uuid.UUID, audience: str) -> None:
    """A machine client's audience is never one of the environment's own tokens': its id (an end user's access
    token for a first-party client), its issuer or its userinfo endpoint (a third party's), under whatever public
    URL. A builder's verifier of end users' tokens would take such a client's token for one, its client id for
    an account's. 400 `reserved_audience`."""
    own = f"/api/v1/environments/{environment_id}"
    named = audience.lower().rstrip("/")
    if named == str(environment_id) or named.endswith((own, f"{own}/userinfo")):
        detail = "The environment's id, issuer and userinfo endpoint are the audiences of its end users' tokens."
        raise bad_request("reserved_audience", detail, "audience")


def _changeable(client: Client) -> set[str]:
    if client.purpose is ClientPurpose.APPLICATION:
        fields = ("redirect_uris", "post_logout_redirect_uris", "grant_types", "scopes", "first_party")
        return {"name", *fields, "id_token_signed_response_alg"}
    if client.purpose is ClientPurpose.MACHINE:
        return {"name", "audience", "permissions"}
    return {"name", "permissions"}


async def delete(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID | None, pk: uuid.UUID) -> None:
    """Deletes the client: its secrets, codes, tokens and consents go with it."""
    require(_rule(environment_id)(actor))
    client = await get(db, actor, environment_id, pk)
    await repository.remove(db, client)
    await _audit(db, actor, "client.deleted", client)


async def rotate(
    db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID | None, pk: uuid.UUID, overlap_seconds: int
) -> tuple[Client, str, datetime]:
    """A new secret (shown once); the previous ones end after `overlap_seconds` (0: at once)."""
    require(_rule(environment_id)(actor))
    client = await get(db, actor, environment_id, pk)
    if client.kind is not ClientKind.CONFIDENTIAL:
        raise Problem(409, "public_client", "A public client has no secret.")
    if client.purpose is ClientPurpose.AUTOMATION:
        _step_up_for_automation(actor)
    ends = utcnow() + timedelta(seconds=overlap_seconds)
    await repository.end_secrets(db, client.id, ends)
    secret = await _new_secret(db, client)
    await _audit(db, actor, "client.secret_rotated", client, overlapSeconds=overlap_seconds)
    return client, secret, ends


def may_manage(actor: TenantActor, environment_id: uuid.UUID | None) -> Verdict:
    """Whether the console shows the controls that change these clients."""
    return _rule(environment_id)(actor)


async def _audit(db: AsyncSession, actor: TenantActor, action: str, client: Client, **details: object) -> None:
    await audit.record(
        db,
        action,
        tenant_id=client.tenant_id,
        environment_id=client.environment_id,
        actor=ref(actor.account),
        target=Ref("client", client.id),
        details={"clientId": client.client_id, **details},
    )
