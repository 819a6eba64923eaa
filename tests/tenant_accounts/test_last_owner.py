"""Tenant accounts: the last enabled owner cannot be removed, demoted or disabled, even when two owners race."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.tenant_accounts import TenantAccount
from sump.db.tables.tenants import Tenant
from tests.support import Database, Member, TenantWorld
from tests.tenant_accounts.accounts import (
    enabled_owners,
    fetch,
    session_status,
)

# The last owner


async def test_mutual_demotion_of_two_owners_leaves_one(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """Both requests are fired at once; whichever lands first wins and the other must not leave zero owners."""
    second = await world.add_member("owner")
    responses = await asyncio.gather(
        client.patch(
            f"{world.base}/accounts/{second.account_id}/role", json={"role": "user"}, headers=world.owner.auth
        ),
        client.patch(
            f"{world.base}/accounts/{world.owner.account_id}/role", json={"role": "user"}, headers=second.auth
        ),
    )

    assert all(response.status_code < 500 for response in responses), [r.text for r in responses]
    assert sorted(r.status_code for r in responses)[0] == 204
    assert len(await enabled_owners(db, world.tenant_id)) >= 1


async def _past_the_owner_check(
    app: FastAPI, database: Database, db: AsyncSession, tenant_id: str, requests: list[Awaitable[httpx.Response]]
) -> list[httpx.Response]:
    """Runs the requests so that each has read its actor and target before any of them writes.

    The test holds a lock the requests need (the owner rows on PostgreSQL, the write lock on SQLite) until every
    request has reached its locking statement, seen through the engine's own statement events; then it lets go.
    """
    engine = app.state.engine.sync_engine
    sqlite = database.backend == "sqlite"
    waiting: set[int] = set()
    all_waiting = asyncio.Event()

    def watch(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        text = statement.lstrip().upper()
        if sqlite:
            # The first write of the request (the sliding-expiry touch of a session is not one).
            locking = text.startswith(("UPDATE", "DELETE", "INSERT")) and not text.startswith("UPDATE SESSION")
        else:
            locking = "FOR NO KEY UPDATE" in text  # the owners' rows
        if locking:
            waiting.add(id(conn))
            if len(waiting) == len(requests):
                all_waiting.set()

    tenant = uuid.UUID(tenant_id)
    if sqlite:
        await db.execute(update(Tenant).where(Tenant.id == tenant).values(name=Tenant.name))
    else:
        await db.execute(select(TenantAccount.id).where(TenantAccount.tenant_id == tenant).with_for_update())
    event.listen(engine, "before_cursor_execute", watch)
    tasks = [asyncio.ensure_future(request) for request in requests]
    try:
        await asyncio.wait_for(all_waiting.wait(), timeout=20)
    finally:
        event.remove(engine, "before_cursor_execute", watch)
        await db.rollback()
        responses = await asyncio.gather(*tasks)
    return responses


@pytest.mark.asvs("AC-05", "REL-04")
@pytest.mark.parametrize("action", ["demote", "disable", "delete"])
async def test_last_owner_cannot_be_removed_even_when_two_owners_race(
    app: FastAPI,
    database: Database,
    client: httpx.AsyncClient,
    world: TenantWorld,
    db: AsyncSession,
    action: str,
) -> None:
    """Owners A and B remove each other at the same moment: both have read that two owners exist before either
    writes. The first wins; the second now targets the last enabled owner and gets 409, changing nothing."""
    second = await world.add_member("owner")

    def remove(target: Member, by: Member) -> Awaitable[httpx.Response]:
        url = f"{world.base}/accounts/{target.account_id}"
        if action == "demote":
            return client.patch(f"{url}/role", json={"role": "admin"}, headers=by.auth)
        if action == "disable":
            return client.patch(f"{url}/disable", headers=by.auth)
        return client.delete(url, headers=by.auth)

    responses = await _past_the_owner_check(
        app, database, db, world.tenant_id, [remove(second, world.owner), remove(world.owner, second)]
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [204, 409], [response.text for response in responses]
    refused = next(response for response in responses if response.status_code == 409)
    assert refused.json()["code"] == "last_owner"
    owners = await enabled_owners(db, world.tenant_id)
    assert len(owners) == 1
    survivor = next(
        member
        for member, response in ((second, responses[0]), (world.owner, responses[1]))
        if response.status_code == 409
    )
    assert owners == [uuid.UUID(survivor.account_id)]
    account = await fetch(world, survivor.account_id, by=survivor)
    assert account["role"] == "owner"
    assert account["disabled"] is False
    assert await session_status(world, survivor.token) == 200
