"""HTTP behaviour shared by every route, on the way in: problem details for every failure, methods, malformed and
unknown JSON, body size and content type."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from sump.kit.middleware import MAX_BODY_BYTES
from tests.kit.http_support import (
    Call,
    assert_problem,
    get,
    json_post,
    request,
)
from tests.support import PASSWORD, tenant_body

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


async def test_a_content_length_of_non_ascii_digits_is_413(client: httpx.AsyncClient) -> None:
    """`²` is a digit to `str.isdigit` (and a Latin-1 header byte) but no number to `int`: a declared length that
    is not ASCII digits is refused like an oversized one, never a server error."""
    headers = {b"content-type": b"application/json", b"content-length": "\u00b2".encode("latin-1")}
    response = await client.post("/api/v1/tenants", content=b"{}", headers=headers)
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
