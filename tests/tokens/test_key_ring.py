"""An environment's signing keys as the console shows them: next, active and retired with their dates, the
rotation schedule, and never a private key."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.tokens import KeyStatus
from sump.kit.errors import Problem
from sump.tokens import admin
from tests.support import TenantWorld
from tests.tenant_accounts.test_refusals import actor_of


async def test_key_ring_after_rotations(app: FastAPI, world: TenantWorld, other: TenantWorld, db: AsyncSession) -> None:
    settings = app.state.settings
    environment_id = uuid.UUID(world.environment_id)
    owner = await actor_of(db, world.owner.account_id)
    assert (await admin.key_ring(db, settings, owner, environment_id)).keys == []
    await admin.rotate_now(db, settings, owner, environment_id)
    await admin.rotate_now(db, settings, owner, environment_id)
    await db.commit()

    user = await actor_of(db, (await world.add_member("user")).account_id)
    ring = await admin.key_ring(db, settings, user, environment_id)  # any account of the tenant reads it
    assert [key.status for key in ring.keys] == [KeyStatus.NEXT, KeyStatus.ACTIVE, KeyStatus.RETIRED]
    assert ring.rotation_days == settings.key_rotation_days
    active = ring.keys[1]
    assert active.activated_at is not None
    assert ring.next_rotation == active.activated_at + timedelta(days=settings.key_rotation_days)
    retired = ring.keys[2]
    assert retired.retired_at is not None
    assert retired.published_until is not None
    assert retired.published_until > retired.retired_at
    assert retired.published
    assert not hasattr(retired, "private_key")

    with pytest.raises(Problem) as refused:
        await admin.rotate_now(db, settings, user, environment_id)
    assert (refused.value.status, refused.value.code) == (403, "insufficient_role")
    await db.rollback()
    stranger = await actor_of(db, other.owner.account_id)
    with pytest.raises(Problem) as missing:
        await admin.key_ring(db, settings, stranger, environment_id)
    assert missing.value.status == 404
