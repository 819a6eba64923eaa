"""The edge: the access log's line in production (one JSON record per request, rendered once, with the fields
and shape of every other record), and the security headers it puts on every response."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from sump.kit.context import request_id_var
from sump.kit.edge import EdgeMiddleware, new_request_id
from sump.kit.logging import access_line, configure_logging


@pytest.fixture
def json_lines() -> Iterator[None]:
    configure_logging(json_lines=True)
    yield
    configure_logging(json_lines=False)


@pytest.mark.asvs("LOG-01")
@pytest.mark.usefixtures("json_lines")
def test_access_line_is_one_json_record(capfd: pytest.CaptureFixture[str]) -> None:
    access_line("GET", '/api/v1/x"y', 401, 1.25, "203.0.113.7", "req-1")
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record.pop("timestamp").endswith("Z")
    assert record == {
        "method": "GET",
        "path": '/api/v1/x"y',
        "status": 401,
        "ms": 1.25,
        "ip": "203.0.113.7",
        "event": "request",
        "request_id": "req-1",
        "level": "info",
    }


async def through_the_edge(
    hsts: bool,
    path: str,
    own: list[tuple[bytes, bytes]],
    request: list[tuple[bytes, bytes]] | None = None,
    inside: Callable[[], None] = lambda: None,
) -> list[tuple[bytes, bytes]]:
    """The response headers the edge sends for a request with `request` headers to an application that runs
    `inside`, then answers with `own` headers."""
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        inside()
        await send({"type": "http.response.start", "status": 200, "headers": own})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    edge = EdgeMiddleware(app, trusted_proxies=[], hsts=hsts)
    scope = {"type": "http", "method": "GET", "path": path, "headers": request or [], "client": ("203.0.113.7", 1)}
    await edge(scope, None, send)  # type: ignore[arg-type]
    headers: list[tuple[bytes, bytes]] = sent[0]["headers"]
    return headers


@pytest.mark.usefixtures("json_lines")
async def test_records_made_while_a_request_is_served_name_it_and_others_name_none(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The edge sets the request's id; every record logged meanwhile carries it (an id the caller passes itself
    wins), and a record made outside any request carries none."""
    log = structlog.get_logger("test")
    seen: list[str] = []

    def inside() -> None:
        seen.append(request_id_var.get())
        log.warning("inside")
        log.warning("own id", request_id="given")

    await through_the_edge(False, "/x", [], inside=inside)
    log.warning("outside")
    records = {record["event"]: record for record in map(json.loads, capfd.readouterr().err.splitlines())}
    assert records["inside"]["request_id"] == seen[0] == records["request"]["request_id"]
    assert records["own id"]["request_id"] == "given"
    assert "request_id" not in records["outside"]


@pytest.mark.usefixtures("json_lines")
async def test_a_request_that_names_itself_as_no_request_gets_an_id_of_its_own(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """ "-" is the request id of what is logged outside any request: a request sent with that id is given a new
    one, which its records, its access line and its answer carry."""
    log = structlog.get_logger("test")
    headers = await through_the_edge(False, "/x", [], [(b"x-request-id", b"-")], inside=lambda: log.warning("inside"))
    records = {record["event"]: record for record in map(json.loads, capfd.readouterr().err.splitlines())}
    answered = dict(headers)[b"x-request-id"].decode()
    assert uuid.UUID(answered).version == 4
    assert records["inside"]["request_id"] == records["request"]["request_id"] == answered


def test_a_new_request_id_is_a_random_uuid_of_version_4() -> None:
    """Written out directly, each id reads as the UUID it says (version 4, RFC 9562's variant), and every bit
    but those six varies."""
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    varied = 0
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        varied |= parsed.int ^ uuid.UUID(ids[0]).int
    assert varied.bit_count() == 122


@pytest.mark.asvs("LOG-06")
@pytest.mark.parametrize("path", ["/api/v1/health", "/console/", "/api-docs"])
async def test_strict_transport_security_is_on_every_kind_of_path_when_asked_for(path: str) -> None:
    with_hsts = dict(await through_the_edge(True, path, []))
    assert with_hsts[b"strict-transport-security"] == b"max-age=31536000; includeSubDomains"
    assert b"strict-transport-security" not in dict(await through_the_edge(False, path, []))


@pytest.mark.asvs("LOG-06")
async def test_a_response_cannot_weaken_the_headers_set_on_every_response() -> None:
    """Those set on every response replace what the application said (one of each), as does the request id;
    only the policy and caching defaults give way to the response's own."""
    own = [
        (b"X-Frame-Options", b"ALLOWALL"),
        (b"x-content-type-options", b"sniff"),
        (b"referrer-policy", b"unsafe-url"),
        (b"Strict-Transport-Security", b"max-age=0"),
        (b"x-request-id", b"chosen-by-the-application"),
        (b"cache-control", b"public, max-age=300"),
    ]
    headers = await through_the_edge(True, "/api/v1/health", own)
    names = [name for name, _ in headers]
    assert len(names) == len(set(names)), headers
    sent = dict(headers)
    assert sent[b"x-frame-options"] == b"DENY"
    assert sent[b"x-content-type-options"] == b"nosniff"
    assert sent[b"referrer-policy"] == b"no-referrer"
    assert sent[b"strict-transport-security"] == b"max-age=31536000; includeSubDomains"
    assert sent[b"x-request-id"] != b"chosen-by-the-application"
    assert sent[b"cache-control"] == b"public, max-age=300"


@pytest.mark.asvs("LOG-06", "RST-07")
@pytest.mark.parametrize("own", [b"no-referrer", b"unsafe-url", b"origin", b"same-origin"])
async def test_a_console_response_may_ask_for_no_referrer_and_for_nothing_weaker(own: bytes) -> None:
    """A console page whose address holds a link's token asks for no referrer; any other policy of the
    response's own gives way to the console's `same-origin`, and the word on another header changes nothing."""
    headers = await through_the_edge(
        False, "/console/reset-password", [(b"Referrer-Policy", own), (b"X-Frame-Options", b"no-referrer")]
    )
    policies = [value for name, value in headers if name == b"referrer-policy"]
    assert policies == ([b"no-referrer"] if own == b"no-referrer" else [b"same-origin"])
    assert [value for name, value in headers if name == b"x-frame-options"] == [b"DENY"]
