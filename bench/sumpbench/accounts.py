"""Accounts and credentials on each system, made through its own public API (as its users would)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sumpbench.load import once, post_form, post_json, request
from sumpbench.systems import System

PASSWORD = "bench-password-Xq7!"


@dataclass
class Tenant:
    """A tenant (Sump or the original) with its owner: how to sign in, and a live session."""

    tenant_id: str
    environment_id: str
    username: str
    cookie: str  # the whole `Cookie` header value
    token: str  # the bearer token (Sump only)

    def login(self, close: bool = False) -> bytes:
        """The owner's sign-in; with `close`, the connection ends with its answer (a connection per sign-in)."""
        return post_json(
            f"/api/v1/auth/tenants/{self.tenant_id}/login",
            {"username": self.username, "password": PASSWORD},
            {"Connection": "close"} if close else None,
        )

    def session_check(self) -> bytes:
        """`GET …/session` with the owner's cookie."""
        return request("GET", f"/api/v1/auth/tenants/{self.tenant_id}/session", headers={"Cookie": self.cookie})


def _cookie(headers: dict[bytes, bytes], raw: bytes) -> str:
    """`name=value` of the first Set-Cookie (the reader keeps one header per name: read them from the raw)."""
    del headers
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"set-cookie:"):
            return line.split(b":", 1)[1].strip().split(b";", 1)[0].decode()
    return ""


async def _exchange(system: System, data: bytes) -> tuple[int, bytes, Any]:
    """(status, raw head, parsed JSON body or None) of one request."""
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", system.port)
    try:
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length)
    finally:
        writer.close()
    return status, head, json.loads(body) if body[:1] in (b"{", b"[") else None


def tenant_body(tag: str) -> dict[str, Any]:
    return {
        "tenant": {"name": f"Bench {tag}"},
        "account": {
            "name": f"Owner {tag}",
            "email": f"o{tag}@bench.example.com",
            "username": f"o{tag}",
            "password": PASSWORD,
        },
    }


async def new_tenant(system: System) -> Tenant:
    """POST /api/v1/tenants (the same request on Sump and on the original), then a sign-in for the cookie."""
    tag = uuid.uuid4().hex[:12]
    status, head, body = await _exchange(system, post_json("/api/v1/tenants", tenant_body(tag)))
    if status != 201:
        raise RuntimeError(f"{system.name}: POST /tenants answered {status}: {body}")
    tenant_id = body.get("tenantId") or body.get("tenant", {}).get("id")
    environment_id = body.get("environmentId") or (body.get("environment") or {}).get("id") or ""
    token = body.get("token", "")
    status, head, _ = await _exchange(
        system, post_json(f"/api/v1/auth/tenants/{tenant_id}/login", {"username": f"o{tag}", "password": PASSWORD})
    )
    if status != 200:
        raise RuntimeError(f"{system.name}: login answered {status}")
    return Tenant(tenant_id, environment_id, f"o{tag}", _cookie({}, head), token)


async def end_user(system: System, environment_id: str) -> tuple[str, str]:
    """A Sump end user signed up in the environment: (email, session token)."""
    tag = uuid.uuid4().hex[:12]
    body = {"name": f"User {tag}", "email": f"u{tag}@bench.example.com", "username": f"u{tag}", "password": PASSWORD}
    status, _, answer = await _exchange(system, post_json(f"/api/v1/auth/environments/{environment_id}/signup", body))
    if status != 201:
        raise RuntimeError(f"{system.name}: signup answered {status}: {answer}")
    return body["email"], answer["token"]


async def session_grant(system: System, environment_id: str, session_token: str) -> dict[str, Any]:
    """The session grant's answer (`accessToken`, `refreshToken`); the first one also makes the environment's keys."""
    data = request(
        "POST",
        f"/api/v1/auth/environments/{environment_id}/token",
        b'{"grantType":"session"}',
        {"Content-Type": "application/json", "Authorization": f"Bearer {session_token}"},
    )
    status, _, answer = await _exchange(system, data)
    if status != 200:
        raise RuntimeError(f"{system.name}: session grant answered {status}: {answer}")
    return dict(answer)


async def access_token(system: System, environment_id: str, session_token: str) -> str:
    """An access token (JWT) of the environment, by the session grant."""
    return str((await session_grant(system, environment_id, session_token))["accessToken"])


@dataclass
class FastapiUser:
    email: str
    cookie: str
    token: str

    def login(self) -> bytes:
        return post_form("/auth/cookie/login", {"username": self.email, "password": PASSWORD})


async def fastapi_user(system: System) -> FastapiUser:
    email = f"u{uuid.uuid4().hex[:12]}@bench.example.com"
    status, _, answer = await _exchange(system, post_json("/auth/register", {"email": email, "password": PASSWORD}))
    if status != 201:
        raise RuntimeError(f"{system.name}: register answered {status}: {answer}")
    status, head, _ = await _exchange(
        system, post_form("/auth/cookie/login", {"username": email, "password": PASSWORD})
    )
    if status not in (200, 204):
        raise RuntimeError(f"{system.name}: cookie login answered {status}")
    cookie = _cookie({}, head)
    status, _, answer = await _exchange(
        system, post_form("/auth/bearer/login", {"username": email, "password": PASSWORD})
    )
    if status != 200:
        raise RuntimeError(f"{system.name}: bearer login answered {status}")
    return FastapiUser(email, cookie, str(answer["access_token"]))


async def check(system: System, path: str, headers: dict[str, str]) -> int:
    status, _, _ = await once(system.port, request("GET", path, headers=headers))
    return status
