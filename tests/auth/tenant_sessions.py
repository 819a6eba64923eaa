"""Helpers for the tenant sign-in and session tests: the auth paths, the signed cookie, and looking at (or ageing)
session rows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.sessions import Session
from tests.support import PASSWORD, SECRET, TenantWorld, set_cookies

IDLE_TTL = timedelta(days=7)
ABSOLUTE_TTL = timedelta(days=30)
SESSION_FIELDS = {
    "id",
    "accountType",
    "accountId",
    "contextType",
    "contextId",
    "expiresAt",
    "lastActiveAt",
    "createdAt",
}
OPTIONAL_SESSION_FIELDS = {"ipAddress", "userAgent"}


def auth(tenant_id: str) -> str:
    return f"/api/v1/auth/tenants/{tenant_id}"


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"sump_session={value}"}


def set_cookie_value(response: httpx.Response) -> str:
    """The value the response sets for `sump_session` (empty when it clears it)."""
    cookies = set_cookies(response)
    assert "sump_session" in cookies, response.headers
    return cookies["sump_session"].value


def signed(token: str, secret: str = SECRET) -> str:
    """The original Sump's signed-cookie format: `s:<token>.<base64 HMAC-SHA256, unpadded>`, URL-encoded."""
    mac = base64.b64encode(hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()).decode().rstrip("=")
    return quote(f"s:{token}.{mac}", safe="")


def flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def login(http: httpx.AsyncClient, world: TenantWorld, **body: Any) -> httpx.Response:
    return await http.post(f"{auth(world.tenant_id)}/login", json={"password": PASSWORD, **body})


async def signed_in(http: httpx.AsyncClient, world: TenantWorld, **body: Any) -> dict[str, Any]:
    response = await login(http, world, **body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def current(http: httpx.AsyncClient, world: TenantWorld, headers: dict[str, str]) -> httpx.Response:
    return await http.get(f"{auth(world.tenant_id)}/session", headers=headers)


async def set_session(db: AsyncSession, session_id: str, **values: Any) -> None:
    await db.execute(update(Session).where(Session.id == uuid.UUID(session_id)).values(**values))
    await db.commit()


async def last_active(db: AsyncSession, session_id: str) -> datetime:
    value = await db.scalar(select(Session.last_active_at).where(Session.id == uuid.UUID(session_id)))
    assert value is not None
    return value


async def rows(db: AsyncSession, **where: str) -> int:
    conditions = [getattr(Session, column) == uuid.UUID(value) for column, value in where.items()]
    return int(await db.scalar(select(func.count()).select_from(Session).where(*conditions)) or 0)
