"""Log records of several processes that share one output stay whole lines: each record is one write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import sqlite_environment, start_server
from tests.support import Database, tenant_body

PROCESSES = 4
RECORDS = 1500
DEADLINE_SECONDS = 60

# Each process logs RECORDS JSON lines of `long` bytes or fewer: the kernel keeps a write to a regular file whole
# at any length, one to a pipe up to PIPE_BUF (4096 bytes on Linux). In a file every fifth record is longer than
# the 8 KiB buffers of Python's text and buffered streams, which otherwise split it into several writes.
WRITER = """
import logging, os, sys
import structlog
from sump.kit.logging import configure_logging
configure_logging(json_lines=True)
log = structlog.get_logger("test")
me, records, long = map(int, sys.argv[1:])
for number in range(records):
    log.info("record", writer=me, number=number, padding="x" * (long if number % 5 == 0 else number % 300))
"""


def _writers(output: int, unbuffered: bool, long: int) -> list[subprocess.Popen[bytes]]:
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    if unbuffered:
        environment["PYTHONUNBUFFERED"] = "1"
    processes = []
    for me in range(PROCESSES):
        processes.append(
            subprocess.Popen(  # noqa: S603
                [sys.executable, "-c", WRITER, str(me), str(RECORDS), str(long)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=output,
                env=environment,
            )
        )
    return processes


def _assert_whole_lines(text: str) -> None:
    seen: dict[int, set[int]] = {me: set() for me in range(PROCESSES)}
    for line in text.splitlines():
        record = json.loads(line)  # a merged or cut line does not parse
        seen[record["writer"]].add(record["number"])
    assert all(numbers == set(range(RECORDS)) for numbers in seen.values()), "every record arrived once, whole"


def _finish(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        try:
            assert process.wait(timeout=DEADLINE_SECONDS) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_records_of_several_processes_on_one_pipe_are_whole_lines(unbuffered: bool) -> None:
    reader, writer = os.pipe()
    processes = []
    try:
        processes = _writers(writer, unbuffered, long=3900)
        os.close(writer)
        writer = -1
        chunks = []
        with os.fdopen(reader, "rb") as pipe:
            reader = -1
            while chunk := pipe.read1(1 << 16):
                chunks.append(chunk)
    finally:
        for fd in (reader, writer):
            if fd >= 0:
                os.close(fd)
        _finish(processes)
    _assert_whole_lines(b"".join(chunks).decode())


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_records_of_several_processes_in_one_file_are_whole_lines(unbuffered: bool, tmp_path: Path) -> None:
    """One open file shared by every process, as `sump serve` gives its workers its own output."""
    log = tmp_path / "server.log"
    processes = []
    with log.open("wb") as output:
        try:
            processes = _writers(output.fileno(), unbuffered, long=9000)
        finally:
            _finish(processes)
    _assert_whole_lines(log.read_text())


INJECTED = "INFO forged record"


@pytest.mark.asvs("LOG-05")
@pytest.mark.parametrize("log_format", ["json", "text"])
def test_carriage_returns_and_line_feeds_a_client_sends_stay_inside_one_log_record(
    tmp_path: Path, empty_database: Database, log_format: str
) -> None:
    """What a client chooses (the path it asks for, the identifier it signs in with) reaches the log as part of one
    record, its CR and LF escaped: no line of the log is a record the client wrote."""
    environment = sqlite_environment(tmp_path, SUMP_DATABASE_URL=empty_database.url, SUMP_LOG_FORMAT=log_format)
    server = start_server(tmp_path, environment)
    forged_path = f"/api/v1/a%0D%0A{INJECTED.replace(' ', '%20')}%0Ab"
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            missing = http.get(forged_path)
            assert missing.status_code == 404, missing.text
            assert missing.json()["code"] == "route_not_found"
            created = http.post("/api/v1/tenants", json=tenant_body())
            assert created.status_code == 201, created.text
            tenant_id = created.json()["tenantId"]
            for identifier in (
                {"username": f"a\n{INJECTED}"},
                {"username": f"a\r\n{INJECTED}"},
                {"email": f"a\r\n{INJECTED}@example.com"},
            ):
                login = http.post(
                    f"/api/v1/auth/tenants/{tenant_id}/login", json={**identifier, "password": "not a password"}
                )
                assert login.status_code == 400, login.text  # control characters are no identifier
                assert login.headers["content-type"].startswith("application/problem+json")
                assert login.json()["code"] == "validation_failed"
                assert set(login.json()["errors"]) == set(identifier)
        assert server.stop() == 0
    finally:
        server.kill()

    lines = server.log_text().splitlines()
    assert not [line for line in lines if line.lstrip().startswith(INJECTED)], "a line the client wrote"
    if log_format == "json":
        records = [json.loads(line) for line in lines]  # each line, whole, is one record
        [asked] = [record for record in records if record.get("event") == "request" and INJECTED in record["path"]]
        assert asked["path"] == f"/api/v1/a\r\n{INJECTED}\nb"  # the value itself, kept whole and escaped
        assert asked["status"] == 404
    else:
        [asked] = [line for line in lines if INJECTED in line]
        assert f"a\\r\\n{INJECTED}\\nb" in asked
        assert "status=404" in asked
