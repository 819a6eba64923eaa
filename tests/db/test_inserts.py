"""Rows written without the unit of work (`db.inserts`), held until the session's next statement, flush or
commit: the statements keep the order the code gives them, the rows held are sent together (on PostgreSQL as one
statement, on its own when they are all the transaction writes), columns not set take their defaults, the
object is then part of the session like any row read, and a rollback sends none."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from sump.db.base import utcnow
from sump.db.inserts import MAX_HELD, insert_now, insert_values, send_held_if
from sump.db.tables.audit import AuditEvent
from sump.db.tables.sessions import AccountType, Session
from sump.db.tables.tenants import Tenant
from tests.support import TenantWorld, statements


def owners_session(world: TenantWorld) -> Session:
    """A new session of the world's owner, not written yet."""
    owner = uuid.UUID(world.owner.account_id)
    return Session(
        token_hash=uuid.uuid4().bytes + uuid.uuid4().bytes,
        tenant_id=uuid.UUID(world.tenant_id),
        account_type=AccountType.TENANT_ACCOUNT,
        account_id=owner,
        tenant_account_id=owner,
        expires_at=utcnow() + timedelta(hours=1),
    )


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
            assert [keyword for keyword, _ in sent] == ["UPDATE"]  # the change before it; the row is held
            assert await db.get(Session, row.id) is row  # kept like a row read: no statement
            assert await db.scalar(select(Session.user_agent).where(Session.id == row.id)) is None
        assert [keyword for keyword, _ in sent] == ["UPDATE", "INSERT", "SELECT"]  # sent before the next statement
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


async def test_rows_held_are_sent_together_and_alone_when_they_are_all_the_transaction_writes(
    app: FastAPI, world: TenantWorld
) -> None:
    """On PostgreSQL, the rows held are one statement (WITH … INSERT), sent without a transaction when nothing
    else is written; SQLite takes one INSERT each, in the transaction. Either way both rows are stored."""
    tenant_id, action = uuid.UUID(world.tenant_id), f"test.{uuid.uuid4().hex[:8]}"
    postgres = app.state.engine.dialect.name == "postgresql"
    async with app.state.sessionmaker() as db:
        with statements(app) as sent:
            for n in range(3):
                await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action, "details": {"n": n}})
            assert sent == []
            await db.commit()
        assert sent == ([("WITH", "AUTOCOMMIT")] if postgres else [("INSERT", None)] * 3)
        stored = (await db.scalars(select(AuditEvent).where(AuditEvent.action == action))).all()
        assert sorted(event.details["n"] for event in stored) == [0, 1, 2]
    async with app.state.sessionmaker() as db:
        await db.scalar(select(Tenant.id).where(Tenant.id == tenant_id))  # the transaction read first
        with statements(app) as sent:
            await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action + ".after-a-read"})
            await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action + ".after-a-read"})
            await db.commit()
        assert sent == ([("WITH", None)] if postgres else [("INSERT", None)] * 2)  # in the transaction begun


async def test_a_flush_sends_the_rows_held_before_its_own_statements(app: FastAPI, world: TenantWorld) -> None:
    async with app.state.sessionmaker() as db:
        row = owners_session(world)
        await insert_now(db, row)
        row.user_agent = "changed while held"
        with statements(app) as sent:
            await db.flush()
        assert [keyword for keyword, _ in sent] == ["INSERT", "UPDATE"]
        row_id = row.id
        await db.rollback()  # the transaction held both: neither is stored
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(Session.id).where(Session.id == row_id)) is None


async def test_rows_held_together_are_stored_together_or_not_at_all(app: FastAPI, world: TenantWorld) -> None:
    """A session whose audit row fails (here: no action) is not stored either, also as one statement alone."""
    async with app.state.sessionmaker() as db:
        row = owners_session(world)
        await insert_now(db, row)
        await insert_values(db, AuditEvent, {"tenant_id": row.tenant_id, "action": None})
        row_id = row.id
        with pytest.raises(IntegrityError):
            await db.commit()
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(Session.id).where(Session.id == row_id)) is None


async def test_a_reads_session_writes_its_rows_at_once(app: FastAPI, world: TenantWorld) -> None:
    """A GET's session commits each statement alone: a row it holds could be lost behind writes already
    committed, so it holds none."""
    tenant_id, action = uuid.UUID(world.tenant_id), f"test.{uuid.uuid4().hex[:8]}"
    async with app.state.read_sessionmaker() as db:
        with statements(app) as sent:
            await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action})
        assert sent == [("INSERT", "AUTOCOMMIT")]
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == action)) is not None


async def test_rows_held_commit_together_with_the_changes_made_after_them(app: FastAPI, world: TenantWorld) -> None:
    """A row held first, then a change of the unit of work that fails at the commit's flush: the held row is
    not stored (it is not sent on its own, since more than it is written)."""
    tenant_id, action = uuid.UUID(world.tenant_id), f"test.{uuid.uuid4().hex[:8]}"
    async with app.state.sessionmaker() as db:
        await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action})
        db.add(AuditEvent(tenant_id=tenant_id, action=None))  # refused by the database at the flush
        with pytest.raises(IntegrityError):
            await db.commit()
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == action)) is None


async def test_many_rows_held_in_one_transaction_are_all_stored(app: FastAPI, world: TenantWorld) -> None:
    """Rows held go in statements of at most `MAX_HELD` rows each, in the one transaction: one statement of 3,000
    WITH clauses took two minutes to compile here, and PostgreSQL's driver binds at most 32,767 parameters (a few
    thousand audit rows)."""
    tenant_id, action = uuid.UUID(world.tenant_id), f"test.{uuid.uuid4().hex[:8]}"
    count = 3_000
    async with app.state.sessionmaker() as db:
        with statements(app) as sent:
            for n in range(count):
                await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action, "details": {"n": n}})
            await db.commit()
        if app.state.engine.dialect.name == "postgresql":
            assert sent == [("WITH", None)] * -(-count // MAX_HELD)  # in the transaction: more than one statement
    async with app.state.sessionmaker() as db:
        stored = await db.scalars(select(AuditEvent.details).where(AuditEvent.action == action))
        assert sorted(details["n"] for details in stored) == list(range(count))


async def test_rows_sent_early_roll_back_with_their_transaction(app: FastAPI, world: TenantWorld) -> None:
    """The rows sent once `MAX_HELD` were waiting went in the transaction, not on their own: a rollback after them
    stores none, and the commit of a later transaction is not taken for one that wrote nothing else."""
    tenant_id, action = uuid.UUID(world.tenant_id), f"test.{uuid.uuid4().hex[:8]}"
    async with app.state.sessionmaker() as db:
        with statements(app) as sent:
            for n in range(MAX_HELD + 1):
                await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action, "details": {"n": n}})
        if app.state.engine.dialect.name == "postgresql":
            assert sent == [("WITH", None)]  # the first hundred, in the transaction; the last one still held
        await db.rollback()
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == action)) is None


@pytest.mark.parametrize("named", ["the tenant", "no tenant"])
async def test_rows_sent_on_a_condition_are_stored_only_when_it_finds_its_row(
    app: FastAPI, world: TenantWorld, named: str
) -> None:
    """`send_held_if`: on PostgreSQL one statement, alone when the rows are all the transaction writes, after
    which the session's transaction has ended (a later write begins its own); on SQLite, in the transaction, a
    write that changes nothing (which takes the database), the condition, and the rows only when it found one."""
    tenant_id, action = uuid.UUID(world.tenant_id), f"test.{uuid.uuid4().hex[:8]}"
    guard = select(Tenant.id).where(Tenant.id == bindparam("guard_id")).with_for_update(read=True)
    postgres = app.state.engine.dialect.name == "postgresql"
    found = named == "the tenant"
    async with app.state.sessionmaker() as db:
        with statements(app) as sent:
            for n in range(2):
                await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action, "details": {"n": n}})
            held = await send_held_if(db, guard, {"guard_id": tenant_id if found else uuid.uuid4()}, last=True)
            assert held is found
            assert db.in_transaction() is not postgres
            await (db.commit() if held else db.rollback())
        sqlite = [("DELETE", None), ("SELECT", None), *([("INSERT", None)] * 2 if found else [])]
        assert sent == ([("WITH", "AUTOCOMMIT")] if postgres else sqlite)
    async with app.state.sessionmaker() as db:
        stored = (await db.scalars(select(AuditEvent).where(AuditEvent.action == action))).all()
        assert sorted(event.details["n"] for event in stored) == ([0, 1] if found else [])


async def test_rows_sent_on_a_condition_after_other_writes_stay_in_their_transaction(
    app: FastAPI, world: TenantWorld
) -> None:
    """A write came before the rows: the condition's statement goes in the transaction (which then still holds
    what it locked), and a rollback takes the rows back with the rest."""
    tenant_id, action = uuid.UUID(world.tenant_id), f"test.{uuid.uuid4().hex[:8]}"
    guard = select(Tenant.id).where(Tenant.id == bindparam("guard_id")).with_for_update(read=True)
    async with app.state.sessionmaker() as db:
        tenant = await db.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.name = "Renamed before the rows"
        await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action})
        with statements(app) as sent:
            assert await send_held_if(db, guard, {"guard_id": tenant_id}, last=True) is True
        assert [isolation for _, isolation in sent] == [None] * len(sent)
        assert db.in_transaction()
        await db.rollback()
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == action)) is None
        assert await db.scalar(select(Tenant.name).where(Tenant.id == tenant_id)) != "Renamed before the rows"


async def test_rows_sent_on_a_condition_before_more_writes_stay_in_their_transaction(
    app: FastAPI, world: TenantWorld
) -> None:
    """Not `last`: the caller writes more after the rows, which may still be refused, so the rows are sent in
    the transaction even when they are all it wrote so far, and roll back with what follows."""
    tenant_id, action = uuid.UUID(world.tenant_id), f"test.{uuid.uuid4().hex[:8]}"
    guard = select(Tenant.id).where(Tenant.id == bindparam("guard_id")).with_for_update(read=True)
    async with app.state.sessionmaker() as db:
        await insert_values(db, AuditEvent, {"tenant_id": tenant_id, "action": action})
        with statements(app) as sent:
            assert await send_held_if(db, guard, {"guard_id": tenant_id}, last=False) is True
        assert [isolation for _, isolation in sent] == [None] * len(sent)
        assert db.in_transaction()
        await db.rollback()
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(AuditEvent.id).where(AuditEvent.action == action)) is None
