"""JSON columns read back what was stored, whatever it is: the empty object, read without the parser, is a new
object at each read, so changing one account's properties in memory never reaches another's."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from sump.db.tables.tenants import Tenant
from tests.support import TenantWorld

STORED: list[Any] = [
    {},
    [],
    {"plan": "pro", "seats": 12, "ratio": 0.5, "on": True, "none": None},
    {"nested": {"deeper": [1, {"}": "{}"}]}, "": "empty key"},
    {"big": 123456789012345678901234567890, "unicode": "Grüße 🌍", "quote": '"{}"'},
]


@pytest.mark.parametrize("value", STORED, ids=range(len(STORED)))
async def test_a_stored_value_reads_back_equal(app: FastAPI, world: TenantWorld, value: Any) -> None:
    tenant_id = uuid.UUID(world.tenant_id)
    async with app.state.sessionmaker() as db:
        tenant = await db.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.custom_properties = value
        await db.commit()
    async with app.state.sessionmaker() as db:
        read = await db.scalar(select(Tenant.custom_properties).where(Tenant.id == tenant_id))
    assert read == value
    assert type(read) is type(value)


async def test_each_read_of_the_empty_object_is_its_own(app: FastAPI, world: TenantWorld) -> None:
    async with app.state.sessionmaker() as db:
        tenant = await db.get(Tenant, uuid.UUID(world.tenant_id))
        assert tenant is not None
        tenant.custom_properties = {}
        await db.commit()
    statement = select(Tenant.custom_properties).where(Tenant.id == uuid.UUID(world.tenant_id))
    async with app.state.sessionmaker() as db:
        first, second = await db.scalar(statement), await db.scalar(statement)
    assert first == second == {}
    first["changed"] = True
    assert second == {}
