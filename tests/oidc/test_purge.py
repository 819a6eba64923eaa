"""The hourly purge bounds the authorization flow's tables: anyone who knows a client's id and redirect URI can
start requests, so expired ones are deleted; a used code stays through its replay window, so that a replay
still revokes what it issued."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.clients import AuthorizationCode, AuthorizationRequest
from sump.kit.crypto import token_digest
from sump.oidc import flow
from tests.oidc.support import code_for, exchange, new_rp
from tests.support import TenantWorld

Flow = type[AuthorizationRequest] | type[AuthorizationCode]


async def _count(db: AsyncSession, table: Flow, environment_id: str) -> int:
    rows = select(func.count()).select_from(table).where(table.environment_id == uuid.UUID(environment_id))
    return int(await db.scalar(rows) or 0)


async def test_expired_authorization_requests_are_purged_and_live_ones_kept(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    rp = await new_rp(client, world)
    for _ in range(3):
        started = await client.get(f"/api/v1/environments/{rp.environment_id}/authorize", params=rp.query())
        assert started.status_code == 302, started.text
    second = await db.scalar(
        select(AuthorizationRequest.id)
        .where(AuthorizationRequest.environment_id == uuid.UUID(world.environment_id))
        .order_by(AuthorizationRequest.id)
        .offset(1)
        .limit(1)
    )
    await db.execute(
        update(AuthorizationRequest)
        .where(AuthorizationRequest.environment_id == uuid.UUID(world.environment_id))
        .where(AuthorizationRequest.id <= second)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    assert await flow.purge_expired(db) >= 1
    await db.commit()
    assert await _count(db, AuthorizationRequest, world.environment_id) == 1


async def test_a_used_code_outlives_its_expiry_for_the_replay_window(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    recent, old = await code_for(client, rp, user), await code_for(client, rp, user)
    for code in (recent, old):
        assert (await exchange(client, rp, code)).status_code == 200
    ages = {recent: timedelta(minutes=5), old: flow.REPLAY_WINDOW + timedelta(minutes=1)}
    for code, age in ages.items():
        await db.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == token_digest(code))
            .values(expires_at=utcnow() - age)
        )
    await db.commit()
    await flow.purge_expired(db)
    await db.commit()
    kept = await db.scalars(
        select(AuthorizationCode.code_hash).where(AuthorizationCode.environment_id == uuid.UUID(world.environment_id))
    )
    assert set(kept) == {token_digest(recent)}
    replay = await exchange(client, rp, recent)
    assert replay.json()["error"] == "invalid_grant"
    assert "revoked" in replay.json()["error_description"]
