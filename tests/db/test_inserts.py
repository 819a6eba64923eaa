"""Rows written by one INSERT at once (`db.inserts`): the statements keep the order the code gives them, columns
not set take their defaults, and the object is then part of the session like any row read."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select

from sump.db.base import utcnow
from sump.db.inserts import insert_now, insert_values
from sump.db.tables.audit import AuditEvent
from sump.db.tables.sessions import AccountType, Session
from sump.db.tables.tenants import Tenant
from tests.support import TenantWorld, statements


async def test_a_row_inserted_now_follows_the_changes_before_it_and_is_kept_like_a_row_read(
    app: FastAPI, world: TenantWorld
) -> None:
    owner = uuid.UUID(world.owner.account_id)
    expires = utcnow() + timedelta(hours=1)
    async with app.state.sessionmaker() as db:
        tenant = await db.get(Tenant, uuid.UUID(world.tenant_id))
        assert tenant is not None
        tenant.name = "Renamed before the insert"
        row = Session(
            token_hash=uuid.uuid4().bytes + uuid.uuid4().bytes,
            tenant_id=tenant.id,
            account_type=AccountType.TENANT_ACCOUNT,
            account_id=owner,
            tenant_account_id=owner,
            expires_at=expires,
        )
        with statements(app) as sent:
            await insert_now(db, row)
        assert [keyword for keyword, _ in sent if keyword in {"UPDATE", "INSERT"}] == ["UPDATE", "INSERT"]
        assert row.id is not None
        assert row.created_at is not None
        assert row.last_active_at is not None
        assert row.environment_id is None
        assert row.elevated_until is None
        assert row in db
        assert row not in db.new
        row.user_agent = "changed after the insert"
        await db.commit()

    async with app.state.sessionmaker() as db:
        stored = await db.get(Session, row.id)
        assert stored is not None
        assert (stored.user_agent, stored.account_id, stored.expires_at) == ("changed after the insert", owner, expires)
        renamed = await db.get(Tenant, uuid.UUID(world.tenant_id))
        assert renamed is not None
        assert renamed.name == "Renamed before the insert"


async def test_values_inserted_take_the_columns_defaults_and_roll_back_with_their_transaction(
    app: FastAPI, world: TenantWorld
) -> None:
    tenant_id, action = uuid.UUID(world.tenant_id), f"test.{uuid.uuid4().hex[:8]}"
    async with app.state.sessionmaker() as db:
        await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action})
        await db.rollback()
        assert await db.scalar(select(AuditEvent).where(AuditEvent.action == action)) is None
        await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action})
        await db.commit()
        event = await db.scalar(select(AuditEvent).where(AuditEvent.action == action))
        assert event is not None
        assert (event.tenant_id, event.outcome, event.details) == (tenant_id, "success", {})
        assert event.id is not None
        assert event.created_at is not None
