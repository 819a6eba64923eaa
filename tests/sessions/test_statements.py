"""What a session check and an admin page cost the database, counted statement by statement.

These are behaviour tests (how many statements, in which mode), never timing tests."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.sessions import Session
from sump.kit.crypto import token_digest
from tests.support import TenantWorld, statements


async def test_session_check_is_one_statement_outside_a_transaction(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    url = f"/api/v1/auth/environments/{world.environment_id}/session"
    with statements(app) as seen:
        response = await client.get(url, headers=user.auth)
    assert response.status_code == 200
    assert seen == [("SELECT", "AUTOCOMMIT")]


async def test_sliding_expiry_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld, db: AsyncSession
) -> None:
    user = await world.add_end_user(world.environment_id)
    url = f"/api/v1/auth/environments/{world.environment_id}/session"
    two_minutes_ago = utcnow() - timedelta(minutes=2)
    await db.execute(
        update(Session).where(Session.token_hash == token_digest(user.token)).values(last_active_at=two_minutes_ago)
    )
    await db.commit()
    with statements(app) as seen:
        first = await client.get(url, headers=user.auth)
        second = await client.get(url, headers=user.auth)
    assert first.status_code == second.status_code == 200
    assert [keyword for keyword, _ in seen] == ["SELECT", "UPDATE", "SELECT"]
    assert first.json()["lastActiveAt"] == second.json()["lastActiveAt"] > two_minutes_ago.isoformat()
    # Committed by itself: another connection reads it, and can end the session at once (no lock is held).
    db.expire_all()
    stored = await db.scalar(select(Session.last_active_at).where(Session.token_hash == token_digest(user.token)))
    assert stored is not None
    assert stored > two_minutes_ago
    signed_out = await client.post(f"/api/v1/auth/environments/{world.environment_id}/logout", headers=user.auth)
    assert signed_out.status_code == 204
    assert (await client.get(url, headers=user.auth)).status_code == 401


async def test_an_environment_route_slides_the_expiry_at_most_once_a_minute(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld, db: AsyncSession
) -> None:
    """The session read together with the path's environment slides as the session check does."""
    url = f"/api/v1/environments/{world.environment_id}/accounts"
    two_minutes_ago = utcnow() - timedelta(minutes=2)
    owner = Session.token_hash == token_digest(world.owner.token)
    await db.execute(update(Session).where(owner).values(last_active_at=two_minutes_ago))
    await db.commit()
    with statements(app) as seen:
        first = await client.get(url, headers=world.owner.auth)
        second = await client.get(url, headers=world.owner.auth)
    assert first.status_code == second.status_code == 200
    assert [keyword for keyword, _ in seen] == ["SELECT", "SELECT", "UPDATE", "SELECT", "SELECT"]
    db.expire_all()
    stored = await db.scalar(select(Session.last_active_at).where(owner))
    assert stored is not None
    assert stored > two_minutes_ago


async def test_disabled_account_is_refused_in_the_same_single_statement(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    disabled = await client.patch(
        f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}/disable", headers=world.owner.auth
    )
    assert disabled.status_code == 204, disabled.text
    with statements(app) as seen:
        response = await client.get(f"/api/v1/auth/environments/{world.environment_id}/session", headers=user.auth)
    assert response.status_code == 401
    assert seen == [("SELECT", "AUTOCOMMIT")]


async def test_admin_list_costs_the_same_statements_on_every_page(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld
) -> None:
    for _ in range(5):
        await world.add_end_user(world.environment_id)
    path: str | None = f"/api/v1/environments/{world.environment_id}/accounts?limit=2"
    counts = []
    while path is not None:
        with statements(app) as seen:
            response = await client.get(path, headers=world.owner.auth)
        assert response.status_code == 200
        counts.append(len(seen))
        assert all(keyword == "SELECT" and mode == "AUTOCOMMIT" for keyword, mode in seen)
        link = response.headers.get("link")
        path = link.split(";")[0].strip("<>") if link else None
    assert len(counts) == 3
    assert counts == [2, 2, 2]  # the session with its account and the environment, then the page
