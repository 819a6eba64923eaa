"""The access log's line in production: one JSON record per request, rendered once, with the fields and shape
of every other record."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

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
