"""SQL for clients, their secrets and automation tokens: every statement on clients starts from `scope.tenant`
and names the environment (or its absence, for a tenant's automation clients); secrets and tokens are reached
through their client, under the same scope."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.scope import tenant
from sump.db.tables.clients import Client, ClientPurpose, ClientSecret, ClientToken


def _in(environment_id: uuid.UUID | None) -> ColumnElement[bool]:
    """The clients of one environment, or the tenant's automation clients (no environment)."""
    if environment_id is None:
        return Client.environment_id.is_(None) & (Client.purpose == ClientPurpose.AUTOMATION)
    return (Client.environment_id == environment_id) & (Client.purpose != ClientPurpose.AUTOMATION)


async def get(db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID | None, pk: uuid.UUID) -> Client | None:
    return await db.scalar(tenant(tenant_id).select(Client).where(_in(environment_id), Client.id == pk))


async def by_client_id(
    db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID | None, client_id: str
) -> Client | None:
    return await db.scalar(tenant(tenant_id).select(Client).where(_in(environment_id), Client.client_id == client_id))


async def of_environment(db: AsyncSession, environment_id: uuid.UUID, client_id: str) -> Client | None:
    """A client of an environment by its public id (the environment's own routes: authorize, token)."""
    statement = select(Client).where(
        Client.environment_id == environment_id,
        Client.purpose != ClientPurpose.AUTOMATION,
        Client.client_id == client_id,
    )
    return await db.scalar(statement)


async def page(
    db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID | None, after: uuid.UUID | None, limit: int
) -> list[Client]:
    statement = tenant(tenant_id).select(Client).where(_in(environment_id))
    if after is not None:
        statement = statement.where(Client.id > after)
    return list(await db.scalars(statement.order_by(Client.id).limit(limit)))


async def add(db: AsyncSession, row: Client | ClientSecret | ClientToken) -> None:
    db.add(row)  # an insert: a client carries its tenant (and environment); a secret or token its client
    await db.flush()


async def remove(db: AsyncSession, client: Client) -> None:
    await db.delete(client)  # by primary key, of a row loaded through its tenant's scope; secrets and tokens cascade
    await db.flush()


async def live_secrets(
    db: AsyncSession, tenant_id: uuid.UUID, client_pk: uuid.UUID, now: datetime
) -> list[ClientSecret]:
    statement = (
        select(ClientSecret)
        .join(Client, Client.id == ClientSecret.client_pk)
        .where(tenant(tenant_id).of(Client), ClientSecret.client_pk == client_pk)
        .where((ClientSecret.expires_at.is_(None)) | (ClientSecret.expires_at > now))
    )
    return list(await db.scalars(statement))


async def end_secrets(db: AsyncSession, client_pk: uuid.UUID, until: datetime) -> None:
    """Every live secret of the client (loaded through its tenant's scope by the caller) ends by `until`."""
    await db.execute(
        update(ClientSecret)
        .where(ClientSecret.client_pk == client_pk)
        .where(ClientSecret.expires_at.is_(None) | (ClientSecret.expires_at > until))
        .values(expires_at=until)
    )


async def token(db: AsyncSession, token_hash: bytes, now: datetime) -> tuple[ClientToken, Client] | None:
    """A live automation token with its client, by its digest, while the secret it was obtained with lives."""
    # Not scoped: the digest of a 256-bit random token is the lookup; the caller binds the result to the path's
    # tenant.
    statement = (
        select(ClientToken, Client)
        .join(Client, Client.id == ClientToken.client_pk)
        .join(ClientSecret, ClientSecret.id == ClientToken.secret_pk)
        .where(ClientToken.token_hash == token_hash, ClientToken.expires_at > now)
        .where(Client.tenant_id == ClientToken.tenant_id, Client.purpose == ClientPurpose.AUTOMATION)
        .where(ClientSecret.expires_at.is_(None) | (ClientSecret.expires_at > now))
    )
    found = (await db.execute(statement)).first()
    return (found[0], found[1]) if found is not None else None


async def purge_tokens(db: AsyncSession, tenant_id: uuid.UUID, client_pk: uuid.UUID, now: datetime) -> None:
    """The client's expired tokens (a new token's issue sweeps its own client)."""
    await db.execute(
        delete(ClientToken).where(
            ClientToken.tenant_id == tenant_id, ClientToken.client_pk == client_pk, ClientToken.expires_at <= now
        )
    )


async def purge_expired_tokens(db: AsyncSession, now: datetime) -> int:
    """Every expired automation token, of every tenant: the hourly purge's, which keeps no row of anyone's."""
    # Not scoped: a deletion of expired rows only, across tenants by design.
    result = await db.execute(delete(ClientToken).where(ClientToken.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]
