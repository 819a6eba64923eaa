from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.tenant_accounts.models import TenantAccount
from tests.support import TenantWorld


async def test_mutual(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    second = await world.add_member("owner")
    for action in ["demote", "delete", "disable"]:
        pass
    a = client.patch(f"{world.base}/accounts/{second.account_id}/role", json={"role": "user"}, headers=world.owner.auth)
    b = client.patch(f"{world.base}/accounts/{world.owner.account_id}/role", json={"role": "user"}, headers=second.auth)
    ra, rb = await asyncio.gather(a, b)
    roles = list(await db.scalars(select(TenantAccount.role).where(TenantAccount.tenant_id == __import__('uuid').UUID(world.tenant_id))))
    print("RESULT", ra.status_code, ra.text, rb.status_code, rb.text, roles)


async def test_dup(client: httpx.AsyncClient, world: TenantWorld) -> None:
    body = {"name": "Dup Dup", "email": "dup@example.com", "username": "dup_user"}
    rs = await asyncio.gather(*[client.post(f"{world.base}/accounts", json={**body, "username": f"dup{i}"}, headers=world.owner.auth) for i in range(5)])
    print("DUP", [(r.status_code, r.json().get("code")) for r in rs])


async def test_null_name(client: httpx.AsyncClient, world: TenantWorld) -> None:
    r = await client.patch(f"{world.base}/accounts/{world.owner.account_id}", json={"name": None}, headers=world.owner.auth)
    print("NULL", r.status_code, r.text)
