"""What a sign-in costs the database, and the per-worker pools that spare it the tenant or environment row:
a change of the row is seen by this worker's next sign-in at once, by other workers within the freshness bound.
Behaviour tests (statements and answers), never timing tests."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.accounts.pools import POOL_FRESHNESS, POOLS
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import AccountType
from tests.support import PASSWORD, TenantWorld, statements


@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_a_sign_in_reads_its_account_alone_then_writes_session_and_audit_while_the_account_is_as_checked(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld, family: str
) -> None:
    if family == "tenant":
        url, body = f"/api/v1/auth/tenants/{world.tenant_id}/login", {"username": world.owner.username}
    else:
        user = await world.add_end_user(world.environment_id)
        url, body = f"{user.auth_base}/login", {"username": user.username}
    assert (await client.post(url, json={**body, "password": PASSWORD})).status_code == 200
    with statements(app) as seen:
        signed_in = await client.post(url, json={**body, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    # No SELECT of the tenant or environment (kept), no transaction around the lookup; then the session and its
    # audit row, written only while the account's password and state are as checked (a new password or the
    # disabling made while the hash was computed refuses the sign-in): on PostgreSQL one statement, alone; on
    # SQLite, in one transaction, a write that changes nothing (it takes the database), the account's row read,
    # then the two rows.
    postgres = app.state.engine.dialect.name == "postgresql"
    sqlite = [("DELETE", None), ("SELECT", None), ("INSERT", None), ("INSERT", None)]
    writes = [("WITH", "AUTOCOMMIT")] if postgres else sqlite
    assert seen == [("SELECT", "AUTOCOMMIT"), *writes]
    with statements(app) as seen:
        wrong = await client.post(url, json={**body, "password": "not the password"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    # The lookup, then the failure's audit row, in a transaction of its own.
    assert seen == [("SELECT", "AUTOCOMMIT"), ("INSERT", "AUTOCOMMIT" if postgres else None)]


async def test_this_worker_sees_a_changed_environment_at_its_next_sign_in(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    assert (await client.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 200
    url = f"{world.base}/environments/{world.environment_id}"
    changed = await client.patch(url, json={"settings": {"factorPolicy": "required"}}, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    challenged = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert challenged.status_code == 202, challenged.text
    assert challenged.json()["enrol"] is True
    deleted = await client.delete(url, headers=world.owner.auth)
    assert deleted.status_code == 204, deleted.text
    gone = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert (gone.status_code, gone.json()["code"]) == (404, "environment_not_found")


async def test_this_worker_sees_a_changed_tenant_at_its_next_sign_in(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    url, body = (
        f"/api/v1/auth/tenants/{world.tenant_id}/login",
        {"username": world.owner.username, "password": PASSWORD},
    )
    assert (await client.post(url, json=body)).status_code == 200
    changed = await client.patch(world.base, json={"settings": {"factorPolicy": "required"}}, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    challenged = await client.post(url, json=body)
    assert challenged.status_code == 202, challenged.text
    assert challenged.json()["enrol"] is True


async def test_a_change_made_elsewhere_is_seen_once_the_kept_pool_is_stale(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """Another worker or node changed the row (here: an UPDATE this worker's ORM did not make)."""
    user = await world.add_end_user(world.environment_id)
    assert (await client.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 200
    environment_id = uuid.UUID(world.environment_id)
    current = (await db.get_one(Environment, environment_id)).settings
    await db.execute(
        update(Environment)
        .where(Environment.id == environment_id)
        .values(settings={**current, "factorPolicy": "required"})
    )
    await db.commit()
    kept = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert kept.status_code == 200, kept.text  # within the freshness bound: the kept pool
    key = (AccountType.ENVIRONMENT_ACCOUNT, environment_id)
    pool, read_at = POOLS._kept[key]
    POOLS._kept[key] = (pool, read_at - POOL_FRESHNESS)  # as if the bound had passed
    stale = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert stale.status_code == 202, stale.text
    assert stale.json()["enrol"] is True


async def test_this_worker_forgets_a_deleted_tenants_environments(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The database deletes a tenant's environments by cascade, which the ORM does not report one by one."""
    user = await world.add_end_user(world.environment_id)
    assert (await client.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 200
    assert (await client.delete(world.base, headers=world.owner.auth)).status_code == 204
    gone = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert (gone.status_code, gone.json()["code"]) == (404, "environment_not_found")
