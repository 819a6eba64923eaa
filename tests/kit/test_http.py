"""HTTP behaviour shared by every route: problem details, limits, request ids, headers, CORS, proxies, health, docs."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from html.parser import HTMLParser
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from sump.app import create_app
from sump.config import Settings
from sump.db.deps import DbSession
from sump.kit.crypto import sign_cookie
from sump.kit.middleware import MAX_BODY_BYTES
from tests.support import PASSWORD, SECRET, Database, make_settings, new_tenant, tenant_body

PEER = "203.0.113.7"  # the address the `client` fixture connects from
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "message", "code", "requestId"}
DEAD_DATABASE = Database("postgresql", "postgresql+asyncpg://postgres@127.0.0.1:1/sump")
Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@contextlib.asynccontextmanager
async def serving(settings: Settings, peer: str = PEER) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own (other settings than the shared one), with a client that keeps no cookies."""
    application = create_app(settings)
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False, client=(peer, 50000))
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as http:
            yield application, http
    finally:
        await application.state.engine.dispose()
        application.state.hasher.close()


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_MEMBERS, body
    assert body["status"] == status
    assert body["message"] == body["detail"]
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    assert body["title"]
    if code is not None:
        assert body["code"] == code
    return body


def json_post(url: str, content: bytes, content_type: str = "application/json") -> Call:
    async def call(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(url, content=content, headers={"Content-Type": content_type})

    return call


def get(url: str, **headers: str) -> Call:
    async def call(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get(url, headers=headers)

    return call


def request(method: str, url: str) -> Call:
    async def call(http: httpx.AsyncClient) -> httpx.Response:
        return await http.request(method, url)

    return call


# Requests that end in a problem, one per kind of failure the HTTP layer produces.
PROBLEMS: dict[str, tuple[Call, int, str]] = {
    "unknown route": (get("/api/v1/no-such-thing"), 404, "route_not_found"),
    "unknown route outside the API": (get("/no-such-page"), 404, "route_not_found"),
    "wrong method": (request("PUT", "/api/v1/tenants"), 405, "method_not_allowed"),
    "malformed json": (json_post("/api/v1/tenants", b'{"tenant": '), 400, "malformed_json"),
    "invalid body": (json_post("/api/v1/tenants", b"{}"), 400, "validation_failed"),
    "not json": (json_post("/api/v1/tenants", b"name=x", "text/plain"), 415, "unsupported_media_type"),
    "too large": (json_post("/api/v1/tenants", b"[" + b" " * MAX_BODY_BYTES + b"]"), 413, "payload_too_large"),
    "no session": (get(f"/api/v1/tenants/{uuid.uuid4()}"), 401, "unauthenticated"),
    "bad uuid": (get("/api/v1/tenants/not-a-uuid", Authorization="Bearer x"), 400, "validation_failed"),
}


@pytest.mark.asvs("LOG-01")
@pytest.mark.parametrize("case", PROBLEMS.keys())
async def test_every_problem_has_the_full_envelope(client: httpx.AsyncClient, case: str) -> None:
    call, status, code = PROBLEMS[case]
    response = await call(client)
    body = assert_problem(response, status, code)
    assert body["requestId"] == response.headers["x-request-id"]


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing/here")
    body = assert_problem(response, 404, "route_not_found")
    assert "nothing" not in response.text.replace(body["requestId"], "")


@pytest.mark.asvs("VAL-05")
@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [("PUT", "/api/v1/tenants", {"POST"}), ("TRACE", "/api/v1/health", {"GET"}), ("DELETE", "/health/live", {"GET"})],
)
async def test_wrong_method_answers_405_with_allow(
    client: httpx.AsyncClient, method: str, url: str, allowed: set[str]
) -> None:
    response = await client.request(method, url)
    assert_problem(response, 405, "method_not_allowed")
    assert {part.strip() for part in response.headers["allow"].split(",")} >= allowed
    assert method not in response.headers["allow"]


@pytest.mark.parametrize("content", [b"{", b'{"tenant": {"name": "Acme",}}', b"\xff\xfe", b"nul\x00"])
async def test_malformed_json_is_400(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post("/api/v1/tenants", content=content, headers={"Content-Type": "application/json"})
    body = assert_problem(response, 400, "malformed_json")
    assert "errors" not in body


@pytest.mark.asvs("VAL-01")
async def test_validation_names_each_field_in_camel_case_without_echoing(client: httpx.AsyncClient) -> None:
    body = tenant_body(environment={"name": "prod", "customProperties": "not-an-object"})
    body["account"]["avatarUrl"] = "javascript:alert(1)"
    del body["account"]["username"]

    response = await client.post("/api/v1/tenants", json=body)

    problem = assert_problem(response, 400, "validation_failed")
    errors = problem["errors"]
    assert set(errors) == {"account.avatarUrl", "account.username", "environment.customProperties"}, errors
    assert all(isinstance(message, str) and message for message in errors.values())
    assert "avatar_url" not in response.text
    assert "custom_properties" not in response.text
    assert "javascript:alert" not in response.text
    assert PASSWORD not in response.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body["tenant"].update(planTier="gold"), "tenant.planTier"),
        (lambda body: body["account"].update(isAdmin=True), "account.isAdmin"),
        (lambda body: body.update(unexpected=1), "unexpected"),
    ],
)
async def test_unknown_json_fields_are_rejected(
    client: httpx.AsyncClient, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    body = tenant_body()
    change(body)
    response = await client.post("/api/v1/tenants", json=body)
    problem = assert_problem(response, 400, "validation_failed")
    assert field in problem["errors"], problem["errors"]


@pytest.mark.asvs("VAL-03")
async def test_body_over_1_mib_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    content = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = await client.post("/api/v1/tenants", content=content, headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "payload_too_large")


@pytest.mark.asvs("VAL-03")
async def test_body_over_1_mib_streamed_without_content_length_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"pad": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    response = await client.post("/api/v1/tenants", content=chunks(), headers={"Content-Type": "application/json"})

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "payload_too_large")


async def test_body_just_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    """The limit is on size only: a big but acceptable body reaches validation."""
    content = b'{"pad": "' + b"x" * (MAX_BODY_BYTES - 100) + b'"}'
    response = await client.post("/api/v1/tenants", content=content, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 400, "validation_failed")
    assert "pad" in problem["errors"]


@pytest.mark.asvs("VAL-04")
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
async def test_non_json_body_on_api_post_is_415(client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/api/v1/tenants", content=b'{"tenant": {}}', headers=headers)
    assert_problem(response, 415, "unsupported_media_type")


async def test_json_with_charset_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/tenants", content=b"{}", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert_problem(response, 400, "validation_failed")


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


SECRET_IN_EXCEPTION = "postgresql://admin:hunter2-SENTINEL@db.internal/sump"


def _add_failing_routes(application: FastAPI) -> None:
    @application.get("/api/v1/test-only/explode")
    async def explode() -> None:
        raise RuntimeError(f"could not use {SECRET_IN_EXCEPTION}")

    @application.get("/api/v1/test-only/explode-in-transaction")
    async def explode_in_transaction(db: DbSession) -> None:
        await db.execute(text("SELECT 1"))
        raise RuntimeError(f"could not use {SECRET_IN_EXCEPTION}")


@pytest.mark.asvs("LOG-01", "LOG-02")
async def test_unexpected_exception_is_a_generic_500_and_the_next_request_works(database: Database) -> None:
    async with serving(make_settings(database)) as (application, http):
        _add_failing_routes(application)

        for _ in range(2):  # twice: nothing (connection, transaction) is left behind by the first
            response = await http.get("/api/v1/test-only/explode-in-transaction")
            assert response.status_code == 500
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert set(body) >= PROBLEM_MEMBERS
            assert body["code"] == "internal"
            assert body["detail"] == body["message"] == "An unexpected error occurred."
            for leak in ("hunter2", "SENTINEL", "RuntimeError", "Traceback", "SELECT", "explode", "sqlalchemy"):
                assert leak not in response.text

        assert (await http.get("/api/v1/health")).status_code == 200
        assert (await http.post("/api/v1/tenants", json=tenant_body())).status_code == 201


# Run in a process of its own so that what the application logs can be read from its stderr.
LOGGING_SCRIPT = """
import asyncio, sys
import httpx
from sump.app import create_app
from sump.config import Settings

app = create_app(Settings(env=sys.argv[1], database_url=sys.argv[2], secret_key="s" * 48, rate_limits=False))

@app.get("/api/v1/test-only/explode")
async def explode() -> None:
    raise RuntimeError("exploded on purpose")

async def main() -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        headers = {
            "X-Request-Id": "trace-me-42",
            "Authorization": "Bearer TOKEN-SENTINEL-1",
            "Cookie": "sump_session=COOKIE-SENTINEL-2",
        }
        response = await http.get("/api/v1/test-only/explode", headers=headers)
        print(response.status_code, flush=True)
        await app.state.engine.dispose()
        app.state.hasher.close()

asyncio.run(main())
"""


@pytest.fixture(scope="module", params=["test", "prod"])
def exploded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(stdout, stderr) of a process whose application met an unexpected exception, in each kind of log output."""
    directory = tmp_path_factory.mktemp("explode")
    script = directory / "explode.py"
    script.write_text(LOGGING_SCRIPT)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    database_url = f"sqlite+aiosqlite:///{directory / 'unused.db'}"
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(script), request.param, database_url],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "500"
    return done.stdout, done.stderr


@pytest.mark.asvs("LOG-02")
def test_unexpected_exception_is_logged_once_with_its_stack_and_request_id(exploded: tuple[str, str]) -> None:
    _, log = exploded
    error_lines = [line for line in log.splitlines() if "unhandled_error" in line]
    assert len(error_lines) == 1, log[-2000:]
    assert "exploded on purpose" in log, "the stack is logged"
    assert "trace-me-42" in error_lines[0], "the error record carries the request id"


@pytest.mark.asvs("LOG-03")
def test_unexpected_exception_log_holds_no_request_credentials(exploded: tuple[str, str]) -> None:
    _, log = exploded
    assert "exploded on purpose" in log
    assert "TOKEN-SENTINEL" not in log, "the Authorization header was written to the log"
    assert "COOKIE-SENTINEL" not in log, "the session cookie was written to the log"


@pytest.mark.asvs("LOG-01", "LOG-06")
@pytest.mark.parametrize(
    ("url", "status"),
    [("/api/v1/test-only/explode", 500), (f"/api/v1/tenants/{uuid.uuid4()}", 503)],
    ids=["exception", "database down"],
)
async def test_unexpected_failures_carry_the_request_id_and_security_headers(url: str, status: int) -> None:
    async with serving(make_settings(DEAD_DATABASE)) as (application, http):
        _add_failing_routes(application)

        response = await http.get(url, headers={"X-Request-Id": "trace-me-42", "Authorization": "Bearer abc"})

        assert response.status_code == status
        assert response.json()["requestId"] == "trace-me-42"
        assert response.headers.get("x-request-id") == "trace-me-42"
        assert response.headers.get("x-content-type-options") == "nosniff"
        assert response.headers.get("cache-control") == "no-store"
        assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")


async def test_api_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "timestamp", "uptime"}
    assert body["status"] == "ok"
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert isinstance(body["uptime"], int | float)
    assert body["uptime"] >= 0


async def test_liveness_and_readiness(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json()["status"] == "ok"
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


@pytest.mark.asvs("REL-05")
async def test_readiness_is_503_fast_when_the_database_does_not_answer() -> None:
    async with serving(make_settings(DEAD_DATABASE)) as (_, http):
        started = time.monotonic()
        ready = await http.get("/health/ready")
        elapsed = time.monotonic() - started

        assert elapsed < 3
        body = assert_problem(ready, 503, "database_unavailable")
        assert "127.0.0.1" not in ready.text
        assert body["requestId"] == ready.headers["x-request-id"]
        assert (await http.get("/health/live")).status_code == 200


@pytest.mark.asvs("REL-05")
@pytest.mark.parametrize(
    ("method", "url", "json"),
    [
        ("GET", "/api/v1/tenants/{id}", None),
        ("GET", "/api/v1/auth/tenants/{id}/session", None),
        ("POST", "/api/v1/auth/tenants/{id}/login", {"username": "someone", "password": PASSWORD}),
        ("POST", "/api/v1/tenants", tenant_body()),
    ],
)
async def test_data_routes_answer_503_fast_when_the_database_does_not_answer(
    method: str, url: str, json: dict[str, Any] | None
) -> None:
    async with serving(make_settings(DEAD_DATABASE)) as (_, http):
        for _ in range(2):  # and again: nothing is stuck after the first failure
            started = time.monotonic()
            response = await http.request(
                method, url.format(id=uuid.uuid4()), json=json, headers={"Authorization": "Bearer abc"}
            )
            elapsed = time.monotonic() - started

            assert elapsed < 3
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert set(body) >= PROBLEM_MEMBERS
            assert body["code"] == "service_unavailable"
            for leak in ("127.0.0.1", "asyncpg", "Connect", "refused", "Errno"):
                assert leak not in response.text


async def test_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/tenants" in document["paths"]
    assert "/api/v1/health" in document["paths"]
    assert "ProblemBody" in document["components"]["schemas"]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values.get("src"))
        if tag == "link" and values.get("rel") == "stylesheet" and values.get("href"):
            self.styles.append(str(values["href"]))


async def test_api_docs_load_only_same_origin_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/api-docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assets = _Assets()
    assets.feed(page.text)

    assert assets.scripts, "the docs page loads Swagger UI"
    assert None not in assets.scripts, "no inline script (the CSP would block it)"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.text)
    for src in [*(str(script) for script in assets.scripts), *assets.styles]:
        assert src.startswith("/")
        assert not src.startswith("//")
        asset = await client.get(src)
        assert asset.status_code == 200, src
        assert asset.content


async def test_swagger_bundle_is_served_locally(client: httpx.AsyncClient) -> None:
    response = await client.get("/api-docs/static/swagger-ui-bundle.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert len(response.content) > 100_000
    assert b"SwaggerUIBundle" in response.content


@pytest.mark.asvs("REL-05")
async def test_console_says_in_a_page_when_the_database_does_not_answer() -> None:
    cookie = {"Cookie": f"sump_session={sign_cookie(SECRET, 'some-session-token')}"}
    async with serving(make_settings(DEAD_DATABASE)) as (_, http):
        page = await http.get("/console/", headers=cookie)
        login = await http.get("/console/login")
    assert login.status_code == 200  # the sign-in page itself needs no database
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "2"
    assert "cannot reach its database" in page.text
    assert "127.0.0.1" not in page.text
