"""Fixtures of the origin tests: an app of their own, trusting a public URL behind a TLS proxy and two listed
origins, with a client and a tenant on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from tests.kit.origins.support import DASHBOARD, PUBLIC, client_for
from tests.support import Database, TenantWorld, make_settings, new_tenant


@pytest.fixture(scope="module")
async def guarded(database: Database) -> AsyncIterator[FastAPI]:
    settings = make_settings(database, public_url=PUBLIC + "/", cors_origins=[DASHBOARD, "http://localhost:3001"])
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()
    application.state.hasher.close()


@pytest.fixture
async def http(guarded: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(guarded) as client:
        yield client


@pytest.fixture
async def tenant(http: httpx.AsyncClient) -> TenantWorld:
    return await new_tenant(http)
