"""Helpers of the origin tests: the origins in play, and cookie-carrying requests as a page would send them."""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
from fastapi import FastAPI

from sump.kit.crypto import sign_cookie
from tests.support import SECRET, TenantWorld

PUBLIC = "https://id.example"  # SUMP_PUBLIC_URL: Sump as browsers see it, behind a TLS proxy
DASHBOARD = "https://dashboard.example"  # the original dashboard, listed in SUMP_CORS_ORIGINS
EVIL = "https://evil.example"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "message", "code", "requestId"}
FORM = "application/x-www-form-urlencoded"


def client_for(app: FastAPI, base_url: str = "http://sump.test") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.20", 50000))
    # No cookie is kept: each request says which credential it carries.
    jar = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(transport=transport, base_url=base_url, cookies=jar)


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"theme=dark; sump_session={sign_cookie(SECRET, token)}"}


def form_post(world: TenantWorld, origin: str | None = EVIL, **extra: str) -> dict[str, Any]:
    """What a page's `<form method=post enctype=…>` sends: the cookie, no custom header, a simple body."""
    headers = {**cookie(world.owner.token), "Content-Type": FORM, **extra}
    if origin is not None:
        headers["Origin"] = origin
    return {"headers": headers, "content": b""}


def rotate_url(world: TenantWorld) -> str:
    return f"{world.base}/environments/{world.environment_id}/keys/rotate"


def logout_all_url(world: TenantWorld) -> str:
    return f"/api/v1/auth/tenants/{world.tenant_id}/logout-all"


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_MEMBERS
    assert body["code"] == "origin_refused"
    assert body["message"] == body["detail"]
    assert "origin" in body["detail"].lower()
    assert "evil" not in response.text  # nothing of the request is echoed
    assert "set-cookie" not in response.headers


async def session_is_live(http: httpx.AsyncClient, world: TenantWorld) -> bool:
    response = await http.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=world.owner.auth)
    return response.status_code == 200


async def signing_keys(http: httpx.AsyncClient, world: TenantWorld) -> list[str]:
    response = await http.get(f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json")
    assert response.status_code == 200
    return sorted(key["kid"] for key in response.json()["keys"])
