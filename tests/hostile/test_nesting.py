"""Nesting of custom properties and metadata, on SQLite and PostgreSQL. Writes nest at most 16 levels (the
properties object itself is the first): deeper is 400 `custom_properties_too_deep`, by every way in, and nothing
is stored. Rows written before that limit may nest deeper: every read of them still answers (the API's views and
the console's pages), showing what lies below the 16th level as null, and the stored row is left as it was."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.tenants import Tenant
from sump.kit.custom_properties import MAX_DEPTH
from tests.console.test_forms import console_login
from tests.support import TenantWorld, signup_body

TOO_DEEP = "custom_properties_too_deep"


def nested(levels: int) -> Any:
    """`levels` objects and arrays inside one another, around a string."""
    value: Any = "bottom"
    for level in range(levels):
        value = {"k": value} if level % 2 else [value]
    return value


def properties(levels: int) -> dict[str, Any]:
    """A properties object nesting `levels` levels in all (itself included)."""
    return {"plain": "kept", "deep": nested(levels - 1)}


def cut(value: Any, level: int = 1) -> Any:
    """What a stored value reads as: containers below MAX_DEPTH are null."""
    if isinstance(value, dict | list) and level > MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {key: cut(item, level + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [cut(item, level + 1) for item in value]
    return value


def assert_too_deep(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == TOO_DEEP
    assert str(MAX_DEPTH) in response.json()["detail"]


@pytest.mark.asvs("VAL-01", "VAL-03")
@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 256, 900])
async def test_deeper_than_the_limit_is_refused_by_every_way_in(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, levels: int
) -> None:
    deep = properties(levels)
    environment = world.environment_id
    signup = f"/api/v1/auth/environments/{environment}/signup"
    assert_too_deep(await client.post(signup, json=signup_body(customProperties=deep)))
    accounts = f"/api/v1/environments/{environment}/accounts"
    for field in ("customProperties", "metadata"):
        assert_too_deep(await client.post(accounts, json=signup_body(**{field: deep}), headers=world.owner.auth))
    user = await world.add_end_user(environment)
    one = f"{accounts}/{user.account_id}"
    assert_too_deep(await client.patch(f"{one}/custom-property", json=deep, headers=user.auth))
    assert_too_deep(await client.patch(one, json={"metadata": deep}, headers=world.owner.auth))
    assert_too_deep(await client.patch(f"{world.base}/custom-property", json=deep, headers=world.owner.auth))
    environments = f"{world.base}/environments"
    assert_too_deep(
        await client.patch(f"{environments}/{environment}/custom-property", json=deep, headers=world.owner.auth)
    )
    assert_too_deep(
        await client.post(environments, json={"name": "deep", "customProperties": deep}, headers=world.owner.auth)
    )
    tenant = {"tenant": {"name": "Deep", "customProperties": deep}, "account": signup_body()}
    assert_too_deep(await client.post("/api/v1/tenants", json=tenant))
    # Nothing was stored: the end user's properties are as they were.
    account = await db.scalar(select(EnvironmentAccount).where(EnvironmentAccount.id == uuid.UUID(user.account_id)))
    assert account is not None
    assert (account.custom_properties, account.metadata_) == ({}, {})


@pytest.mark.asvs("VAL-01")
async def test_the_limit_itself_is_accepted_and_read_back(client: httpx.AsyncClient, world: TenantWorld) -> None:
    signup = f"/api/v1/auth/environments/{world.environment_id}/signup"
    created = await client.post(signup, json=signup_body(customProperties=properties(MAX_DEPTH)))
    assert created.status_code == 201, created.text
    user = f"/api/v1/environments/{world.environment_id}/accounts/{created.json()['accountId']}"
    read = await client.get(user, headers=world.owner.auth)
    assert read.status_code == 200
    assert read.json()["customProperties"] == properties(MAX_DEPTH)


# ----------------------------------------------------------------------------------- rows of before the limit


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.44", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http


@pytest.mark.asvs("VAL-01")
@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 300])
async def test_rows_deeper_than_the_limit_are_still_read(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, levels: int
) -> None:
    user = await world.add_end_user(world.environment_id)
    deep, environment_id = properties(levels), uuid.UUID(world.environment_id)
    await db.execute(
        update(EnvironmentAccount)
        .where(EnvironmentAccount.id == uuid.UUID(user.account_id))
        .values(custom_properties=deep, metadata_=deep)
    )
    await db.execute(update(Tenant).where(Tenant.id == uuid.UUID(world.tenant_id)).values(custom_properties=deep))
    await db.execute(update(Environment).where(Environment.id == environment_id).values(custom_properties=deep))
    await db.commit()
    shown = cut(deep)
    assert shown != deep

    accounts = f"/api/v1/environments/{world.environment_id}/accounts"
    listed = await client.get(accounts, headers=world.owner.auth)
    assert listed.status_code == 200, listed.text
    (row,) = [item for item in listed.json() if item["id"] == user.account_id]
    assert (row["customProperties"], row["metadata"]) == (shown, shown)
    for auth in (world.owner.auth, user.auth):
        one = await client.get(f"{accounts}/{user.account_id}", headers=auth)
        assert one.status_code == 200, one.text
        assert (one.json()["customProperties"], one.json()["metadata"]) == (shown, shown)
    tenant = await client.get(world.base, headers=world.owner.auth)
    assert tenant.status_code == 200, tenant.text
    assert tenant.json()["customProperties"] == shown
    assert all(
        item["customProperties"] == shown
        for item in tenant.json()["environments"]
        if item["id"] == world.environment_id
    )
    environment = await client.get(f"{world.base}/environments/{world.environment_id}", headers=world.owner.auth)
    assert environment.status_code == 200, environment.text
    assert environment.json()["customProperties"] == shown

    assert (await console_login(browser, world)).status_code == 303
    pages = [
        "/console/",
        "/console/settings",
        f"/console/environments/{world.environment_id}",
        f"/console/environments/{world.environment_id}/users",
        f"/console/environments/{world.environment_id}/users?q=end",
        f"/console/environments/{world.environment_id}/users/{user.account_id}",
    ]
    for page in pages:
        response = await browser.get(page)
        assert response.status_code == 200, (page, response.text[-400:])
        assert "kept" in response.text or page.endswith(("/users", "?q=end")), page

    # Reading changed nothing: the rows hold what was written.
    account = await db.scalar(select(EnvironmentAccount).where(EnvironmentAccount.id == uuid.UUID(user.account_id)))
    assert account is not None
    assert (account.custom_properties, account.metadata_) == (deep, deep)
