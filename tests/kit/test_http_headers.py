"""Headers on every response: request ids, security headers, caching, CORS, and `X-Forwarded-For` trusted only
from configured proxies."""

from __future__ import annotations

import uuid

import httpx
import pytest

from sump.kit.middleware import MAX_BODY_BYTES
from tests.kit.http_support import (
    PEER,
    Call,
    get,
    json_post,
    serving,
)
from tests.support import PASSWORD, Database, make_settings, new_tenant, tenant_body


@pytest.mark.parametrize("request_id", ["abc-123", "req.42:edge_7", "A" * 128, "0b7c5a1e-8f1d-4b8e-9d36-3f2a7c1e9b40"])
async def test_sane_request_id_is_echoed(client: httpx.AsyncClient, request_id: str) -> None:
    ok = await client.get("/api/v1/health", headers={"X-Request-Id": request_id})
    assert ok.headers["x-request-id"] == request_id
    missing = await client.get("/api/v1/missing", headers={"X-Request-Id": request_id})
    assert missing.headers["x-request-id"] == request_id
    assert missing.json()["requestId"] == request_id


@pytest.mark.parametrize(
    "request_id",
    [None, "", "has space", "<script>alert(1)</script>", "A" * 129, "semi;colon", b"caf\xc3\xa9", "a/b"],
)
async def test_missing_or_illegal_request_id_is_replaced_by_a_uuid(
    client: httpx.AsyncClient, request_id: str | bytes | None
) -> None:
    raw = request_id.encode() if isinstance(request_id, str) else request_id
    headers = [] if raw is None else [(b"X-Request-Id", raw)]
    response = await client.get("/api/v1/missing", headers=headers)
    generated = response.headers["x-request-id"]
    assert str(uuid.UUID(generated)) == generated
    assert uuid.UUID(generated).version == 4
    assert response.json()["requestId"] == generated
    if isinstance(request_id, str) and request_id:
        assert request_id not in response.text


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/api/v1/health")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


HEADER_CASES: dict[str, Call] = {
    "ok": get("/api/v1/health"),
    "problem": get("/api/v1/missing"),
    "unauthenticated": get(f"/api/v1/tenants/{uuid.uuid4()}"),
    "invalid": json_post("/api/v1/tenants", b"{}"),
    "too large": json_post("/api/v1/tenants", b"[" + b" " * MAX_BODY_BYTES + b"]"),
    "not json": json_post("/api/v1/tenants", b"x", "text/plain"),
    "probe": get("/health/live"),
    "readiness": get("/health/ready"),
    "openapi": get("/openapi.json"),
    "docs page": get("/api-docs"),
    "docs asset": get("/api-docs/static/swagger-ui.css"),
}


@pytest.mark.asvs("LOG-06")
@pytest.mark.parametrize("case", HEADER_CASES.keys())
async def test_security_headers_on_every_response(client: httpx.AsyncClient, case: str) -> None:
    response = await HEADER_CASES[case](client)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    if response.request.url.path.startswith("/api/"):
        assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # not in test: TLS is not ours here


@pytest.mark.asvs("LOG-06")
async def test_personal_responses_are_not_cached(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/tenants", json=tenant_body())
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    session = await client.get(
        f"/api/v1/auth/tenants/{created.json()['tenantId']}/session",
        headers={"Authorization": f"Bearer {created.json()['token']}"},
    )
    assert session.status_code == 200
    assert session.headers["cache-control"] == "no-store"


ALLOWED_ORIGIN = "https://console.example"


@pytest.mark.asvs("LOG-07")
async def test_cors_preflight_from_listed_origin_allows_credentials(database: Database) -> None:
    settings = make_settings(database, cors_origins=[ALLOWED_ORIGIN, "http://localhost:5173"])
    async with serving(settings) as (_, http):
        preflight = await http.options(
            "/api/v1/tenants",
            headers={
                "Origin": ALLOWED_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert "POST" in preflight.headers["access-control-allow-methods"]

        actual = await http.get("/api/v1/health", headers={"Origin": ALLOWED_ORIGIN})
        assert actual.status_code == 200
        assert actual.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert actual.headers["access-control-allow-credentials"] == "true"
        assert "origin" in actual.headers.get("vary", "").lower()


@pytest.mark.asvs("LOG-07")
@pytest.mark.parametrize("origin", ["https://evil.example", "https://console.example.evil.example", "null"])
async def test_cors_gives_nothing_to_other_origins(database: Database, origin: str) -> None:
    async with serving(make_settings(database, cors_origins=[ALLOWED_ORIGIN])) as (_, http):
        preflight = await http.options(
            "/api/v1/tenants", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers
        actual = await http.get("/api/v1/health", headers={"Origin": origin})
        assert actual.status_code == 200
        assert "access-control-allow-origin" not in actual.headers


@pytest.mark.asvs("LOG-07")
async def test_no_cors_headers_when_no_origin_is_configured(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/tenants", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    actual = await client.get("/api/v1/health", headers={"Origin": ALLOWED_ORIGIN})
    for response in (preflight, actual):
        assert not [name for name in response.headers if name.lower().startswith("access-control-")]
    assert preflight.status_code == 405


async def _login_ip(http: httpx.AsyncClient, forwarded_for: str | None) -> str:
    world = await new_tenant(http)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = await http.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login",
        json={"email": world.owner.email, "password": PASSWORD},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    ip: str = response.json()["session"]["ipAddress"]
    session = await http.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=world.owner.auth)
    assert session.status_code == 200
    return ip


@pytest.mark.asvs("VAL-08")
@pytest.mark.parametrize("forwarded_for", [None, "198.51.100.23", "198.51.100.23, 10.0.0.1"])
async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    client: httpx.AsyncClient, forwarded_for: str | None
) -> None:
    assert await _login_ip(client, forwarded_for) == PEER


@pytest.mark.asvs("VAL-08")
@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        ("198.51.100.23", "198.51.100.23"),
        # The nearest hop that is not a trusted proxy; whatever the client wrote further left is not believed.
        ("6.6.6.6, 198.51.100.23", "198.51.100.23"),
        ("198.51.100.23, 203.0.113.9", "198.51.100.23"),
        (None, PEER),
    ],
)
async def test_forwarded_for_is_honoured_from_a_trusted_proxy(
    database: Database, forwarded_for: str | None, expected: str
) -> None:
    async with serving(make_settings(database, trusted_proxies=["203.0.113.0/24"])) as (_, http):
        assert await _login_ip(http, forwarded_for) == expected
