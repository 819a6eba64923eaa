"""Helpers for the tenant account tests: request bodies, reading accounts, sessions and owners, and a check that
no response carries a secret."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.sessions import Session
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from tests.support import PASSWORD, Member, TenantWorld, bearer

Attempt = tuple[str, str, dict[str, Any] | None]
SECRET_KEYS = {"password", "passwordhash", "password_hash", "tokenhash", "token_hash", "hash"}


def _keys(value: Any) -> set[str]:
    """Every object key in a JSON document, except the field names that `errors` reports."""
    if isinstance(value, dict):
        return {key.lower() for key in value} | {
            k for key, item in value.items() if key != "errors" for k in _keys(item)
        }
    if isinstance(value, list):
        return {key for item in value for key in _keys(item)}
    return set()


def assert_no_secrets(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url}"
    assert "$argon2" not in response.text, where
    assert "$2b$" not in response.text, where
    if response.content:
        assert not _keys(response.json()) & SECRET_KEYS, where


def account_body(world: TenantWorld, role: str | None = None, **overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {"name": f"Person {tag}", "email": f"person-{tag}@example.com", "username": f"p_{tag}"}
    if role is not None:
        body["roles"] = [{"role": role, "target": "tenant", "targetId": world.tenant_id}]
    body.update(overrides)
    return body


async def create(world: TenantWorld, by: Member | None = None, **body: Any) -> httpx.Response:
    response = await world.http.post(f"{world.base}/accounts", json=body, headers=(by or world.owner).auth)
    assert_no_secrets(response)
    return response


async def fetch(world: TenantWorld, account_id: str, by: Member | None = None) -> dict[str, Any]:
    response = await world.http.get(f"{world.base}/accounts/{account_id}", headers=(by or world.owner).auth)
    assert response.status_code == 200, response.text
    assert_no_secrets(response)
    data: dict[str, Any] = response.json()
    return data


async def session_status(world: TenantWorld, token: str) -> int:
    response = await world.http.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=bearer(token))
    return response.status_code


async def login_status(world: TenantWorld, password: str = PASSWORD, **identifier: str) -> int:
    response = await world.http.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login", json={**identifier, "password": password}
    )
    return response.status_code


async def session_rows(db: AsyncSession, account_id: str) -> int:
    statement = select(func.count()).select_from(Session).where(Session.account_id == uuid.UUID(account_id))
    return int(await db.scalar(statement) or 0)


async def enabled_owners(db: AsyncSession, tenant_id: str) -> list[uuid.UUID]:
    statement = select(TenantAccount.id).where(
        TenantAccount.tenant_id == uuid.UUID(tenant_id),
        TenantAccount.role == TenantRole.OWNER,
        TenantAccount.disabled.is_(False),
    )
    return list(await db.scalars(statement))
