"""The hosted pages in process, on SQLite and PostgreSQL, through a client that keeps cookies as a browser
does (the browser tests beside them drive the same pages in Chromium)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.factors.conftest import clock  # noqa: F401  (the TOTP clock the factor tests move)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.41", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http
