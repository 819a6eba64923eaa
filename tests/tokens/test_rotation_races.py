"""Rotations that meet: several admins rotating an environment's keys at once, or the scheduled rotation due
when several tokens are signed at once. Each rotation sees the one before it, so the key ring stays one active
key and one next key (published before it signs), and the scheduled rotation happens once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.tokens import KeyStatus, SigningKey
from tests.support import TenantWorld

ROUNDS = 4


async def ring(db: AsyncSession, world: TenantWorld) -> dict[str, KeyStatus]:
    """The environment's keys by kid, as stored now."""
    rows = await db.execute(
        select(SigningKey.kid, SigningKey.status).where(SigningKey.environment_id == uuid.UUID(world.environment_id))
    )
    await db.commit()
    return {row.kid: row.status for row in rows}


async def first_key(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> dict[str, KeyStatus]:
    """The environment's first keys, made by its first token: an active one and the next one."""
    user = await world.add_end_user(world.environment_id)
    url = f"/api/v1/auth/environments/{world.environment_id}/token"
    issued = await client.post(url, json={"grantType": "session"}, headers=user.auth)
    assert issued.status_code == 200, issued.text
    keys = await ring(db, world)
    assert sorted(keys.values()) == [KeyStatus.ACTIVE, KeyStatus.NEXT]
    return keys


@pytest.mark.asvs("JWT-07", "REL-04")
async def test_concurrent_rotations_each_promote_the_next_key(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """Rotations by several requests at once take turns: each retires the key the one before it made active and
    promotes the next key it left, and none makes an active key of its own that was never published."""
    before = await first_key(client, world, db)
    rotate = f"{world.base}/environments/{world.environment_id}/keys/rotate"
    answers = await asyncio.gather(*(client.post(rotate, headers=world.owner.auth) for _ in range(ROUNDS)))
    assert [answer.status_code for answer in answers] == [200] * ROUNDS
    promoted = [answer.json()["kid"] for answer in answers]
    assert len(set(promoted)) == ROUNDS, "each rotation promotes another key"
    keys = await ring(db, world)
    statuses = sorted(keys.values())
    assert statuses == [KeyStatus.ACTIVE, KeyStatus.NEXT] + [KeyStatus.RETIRED] * ROUNDS
    [next_before] = [kid for kid, status in before.items() if status is KeyStatus.NEXT]
    assert next_before in promoted, "the next key published before the rotations is the first one promoted"
    [active] = [kid for kid, status in keys.items() if status is KeyStatus.ACTIVE]
    assert active in promoted


@pytest.mark.asvs("JWT-07", "REL-04")
async def test_a_due_rotation_happens_once_however_many_tokens_are_signed_at_once(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """The active key past `SUMP_KEY_ROTATION_DAYS` is rotated by the first token signed after; tokens signed at
    the same moment wait for that rotation and are signed by the key it promoted, the one published as next."""
    before = await first_key(client, world, db)
    [active_before] = [kid for kid, status in before.items() if status is KeyStatus.ACTIVE]
    [next_before] = [kid for kid, status in before.items() if status is KeyStatus.NEXT]
    overdue = utcnow() - timedelta(days=app.state.settings.key_rotation_days, minutes=1)
    await db.execute(update(SigningKey).where(SigningKey.kid == active_before).values(activated_at=overdue))
    await db.commit()

    users = [await world.add_end_user(world.environment_id) for _ in range(ROUNDS)]
    url = f"/api/v1/auth/environments/{world.environment_id}/token"
    issued = await asyncio.gather(
        *(client.post(url, json={"grantType": "session"}, headers=user.auth) for user in users)
    )
    assert [answer.status_code for answer in issued] == [200] * ROUNDS
    kids = {jwt.get_unverified_header(answer.json()["accessToken"])["kid"] for answer in issued}
    assert kids == {next_before}, "every token is signed by the key published as next before the rotation"
    keys = await ring(db, world)
    assert sorted(keys.values()) == [KeyStatus.ACTIVE, KeyStatus.NEXT, KeyStatus.RETIRED]
    assert (keys[active_before], keys[next_before]) == (KeyStatus.RETIRED, KeyStatus.ACTIVE)
