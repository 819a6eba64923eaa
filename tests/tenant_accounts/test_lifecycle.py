"""Tenant accounts: what disabling, enabling or deleting an account does to its sessions and sign-in, and no
response ever carries a password hash."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.tenant_accounts import TenantAccount
from tests.support import PASSWORD, TenantWorld
from tests.tenant_accounts.accounts import (
    account_body,
    assert_no_secrets,
    create,
    fetch,
    login_status,
    session_rows,
    session_status,
)

# Disable, enable, delete


@pytest.mark.asvs("SESS-07", "AC-09", "AUTH-01")
async def test_disable_revokes_sessions_and_enable_restores_login(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user = await world.add_member("user")
    other_device = await world.login(username=user.username)
    bystander = await world.add_member("user")
    url = f"{world.base}/accounts/{user.account_id}"

    assert (await client.patch(f"{url}/disable", headers=world.owner.auth)).status_code == 204

    assert await session_status(world, user.token) == 401
    assert await session_status(world, other_device) == 401
    assert (await client.get(f"{world.base}/accounts", headers=user.auth)).status_code == 401
    assert await session_rows(db, user.account_id) == 0
    assert await session_status(world, bystander.token) == 200
    account = await fetch(world, user.account_id)
    assert account["disabled"] is True
    assert account["disabledAt"] is not None
    assert await login_status(world, username=user.username) == 401
    assert (await client.patch(f"{url}/disable", headers=world.owner.auth)).status_code == 204

    assert (await client.patch(f"{url}/enable", headers=world.owner.auth)).status_code == 204

    account = await fetch(world, user.account_id)
    assert account["disabled"] is False
    assert account["disabledAt"] is None
    assert await session_status(world, user.token) == 401
    assert await login_status(world, username=user.username) == 200


@pytest.mark.asvs("SESS-07", "REL-08")
async def test_delete_removes_account_and_sessions(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    admin = await world.add_member("admin")
    await world.login(email=admin.email)
    assert await session_rows(db, admin.account_id) == 2
    url = f"{world.base}/accounts/{admin.account_id}"

    assert (await client.delete(url, headers=world.owner.auth)).status_code == 204

    assert await session_rows(db, admin.account_id) == 0
    assert await db.scalar(select(TenantAccount).where(TenantAccount.id == uuid.UUID(admin.account_id))) is None
    assert await session_status(world, admin.token) == 401
    assert (await client.get(url, headers=world.owner.auth)).status_code == 404
    assert (await client.delete(url, headers=world.owner.auth)).status_code == 404
    assert await login_status(world, email=admin.email) == 401
    assert (await create(world, **account_body(world, email=admin.email))).status_code == 201


@pytest.mark.asvs("AC-07")
async def test_no_response_carries_a_password_hash(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    base = f"{world.base}/accounts"
    responses = [
        await client.get(base, headers=world.owner.auth),
        await client.get(f"{base}/{user.account_id}", headers=user.auth),
        await client.get(f"{base}/user-defined-identification", params={"email": user.email}, headers=user.auth),
        await client.post(base, json=account_body(world, password=PASSWORD), headers=world.owner.auth),
        await client.post(
            base, json=account_body(world, email=user.email, password=PASSWORD), headers=world.owner.auth
        ),
        await client.post(
            f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"email": user.email, "password": PASSWORD}
        ),
    ]
    for response in responses:
        assert_no_secrets(response)
        assert PASSWORD not in response.text
