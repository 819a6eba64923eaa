"""Retired keys stay in the JWKS that every verifier parses until the tokens they signed have expired, and are
deleted 30 days later: an admin rotating in a loop is refused past five retired keys published at once (429
`rotation_too_frequent`), the JWKS reads only the keys it may hold, and the hourly purge deletes the old ones."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.environments import Environment
from sump.db.tables.tokens import KeyStatus, SigningKey
from sump.tokens import service as tokens
from tests.support import TenantWorld
from tests.tokens.test_rotation_races import first_key, ring


async def published(client: httpx.AsyncClient, world: TenantWorld) -> set[str]:
    jwks = await client.get(f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json")
    return {key["kid"] for key in jwks.json()["keys"]}


@pytest.mark.asvs("JWT-07")
async def test_rotations_on_demand_stop_at_five_retired_keys_published(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    await first_key(client, world, db)
    rotate = f"{world.base}/environments/{world.environment_id}/keys/rotate"
    for _ in range(tokens.MOST_RETIRED):
        assert (await client.post(rotate, headers=world.owner.auth)).status_code == 200
    refused = await client.post(rotate, headers=world.owner.auth)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rotation_too_frequent"
    publication = app.state.settings.access_token_ttl + tokens.LEEWAY.total_seconds()
    assert 0 < int(refused.headers["Retry-After"]) <= publication
    keys = await ring(db, world)
    assert sorted(keys.values()) == [KeyStatus.ACTIVE, KeyStatus.NEXT] + [KeyStatus.RETIRED] * tokens.MOST_RETIRED
    assert await published(client, world) == set(keys)

    # The oldest retired key left the JWKS: one more rotation is allowed, and the JWKS no longer holds that key.
    oldest = await db.scalar(
        select(SigningKey.kid)
        .where(SigningKey.environment_id == uuid.UUID(world.environment_id), SigningKey.status == KeyStatus.RETIRED)
        .order_by(SigningKey.retired_at)
        .limit(1)
    )
    gone = utcnow() - timedelta(seconds=publication + 1)
    await db.execute(update(SigningKey).where(SigningKey.kid == oldest).values(retired_at=gone))
    await db.commit()
    assert (await client.post(rotate, headers=world.owner.auth)).status_code == 200
    kids = await published(client, world)
    assert oldest not in kids
    assert len(kids) == 2 + tokens.MOST_RETIRED


async def test_the_hourly_purge_deletes_keys_retired_thirty_days_ago(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    await first_key(client, world, db)
    rotate = f"{world.base}/environments/{world.environment_id}/keys/rotate"
    for _ in range(2):
        assert (await client.post(rotate, headers=world.owner.auth)).status_code == 200
    old, recent = [kid for kid, status in (await ring(db, world)).items() if status is KeyStatus.RETIRED]
    for kid, age in (
        (old, tokens.RETIRED_KEPT + timedelta(minutes=1)),
        (recent, tokens.RETIRED_KEPT - timedelta(hours=1)),
    ):
        await db.execute(update(SigningKey).where(SigningKey.kid == kid).values(retired_at=utcnow() - age))
    await db.commit()

    assert await tokens.purge_retired_keys(db) >= 1
    await db.commit()
    left = await ring(db, world)
    assert old not in left
    assert left[recent] is KeyStatus.RETIRED, "kept: it still verifies the ID tokens logout accepts as hints"
    assert sorted(left.values()) == [KeyStatus.ACTIVE, KeyStatus.NEXT, KeyStatus.RETIRED]


async def test_the_wait_is_until_fewer_than_five_retired_keys_are_published(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """`sump keys rotate` is not limited, so more than five retired keys may be published: the refusal's
    `Retry-After` is the time until the fifth newest leaves the JWKS, not the oldest (after which five or more
    would still be there)."""
    await first_key(client, world, db)
    environment = await db.get(Environment, uuid.UUID(world.environment_id))
    assert environment is not None
    for _ in range(7):
        await tokens.rotate(db, app.state.settings, environment)
    retired = (
        await db.scalars(
            select(SigningKey.kid)
            .where(SigningKey.environment_id == environment.id, SigningKey.status == KeyStatus.RETIRED)
            .order_by(SigningKey.id)
        )
    ).all()
    assert len(retired) == 7
    now = utcnow()
    for minutes, kid in zip(range(10, 3, -1), retired, strict=True):  # the oldest retired 10 minutes ago
        await db.execute(
            update(SigningKey).where(SigningKey.kid == kid).values(retired_at=now - timedelta(minutes=minutes))
        )
    await db.commit()

    refused = await client.post(
        f"{world.base}/environments/{world.environment_id}/keys/rotate", headers=world.owner.auth
    )
    assert refused.status_code == 429
    publication = app.state.settings.access_token_ttl + tokens.LEEWAY.total_seconds()
    fifth_newest_leaves = publication - 8 * 60  # retired 8 minutes ago
    assert fifth_newest_leaves - 10 <= int(refused.headers["Retry-After"]) <= fifth_newest_leaves
