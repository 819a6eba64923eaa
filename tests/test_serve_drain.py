"""SIGTERM under load: `sump serve --workers 2` stops without failing a request.

Four client loops send requests over kept-alive connections (opening a new one when the server closes theirs)
while the server gets SIGTERM. Every request sent before the signal is answered; every connection opened after
it is either answered or refused at connect, never accepted and then reset.
"""

from __future__ import annotations

import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import Server, sqlite_environment, start_server
from tests.test_serve_workers import wait_until_every_worker_serves

LOOPS = 4
REQUESTS_BEFORE_SIGNAL = 400
DEADLINE_SECONDS = 60
REQUEST = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@dataclass
class Outcomes:
    """What the loops saw, with the time of each attempt (time.monotonic)."""

    answered: list[float] = field(default_factory=list)  # requests answered 200
    failed: list[tuple[float, str, bool]] = field(default_factory=list)  # (sent, error, on a new connection)
    refused: list[float] = field(default_factory=list)  # connections refused at connect
    lock: threading.Lock = field(default_factory=threading.Lock)


def _response(connection: socket.socket) -> tuple[bytes, bytes]:
    """One HTTP response's head and body; raises ConnectionError if the server ends it early."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed without an answer" if not data else "closed within the head")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed within the body")
        body += chunk
    return head, body


def _closed_by_server(connection: socket.socket) -> bool:
    """What an HTTP client checks before it reuses an idle connection: has the server closed it?"""
    if not select.select([connection], [], [], 0)[0]:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _loop(port: int, outcomes: Outcomes, signalled: threading.Event, stop: threading.Event) -> None:
    connection: socket.socket | None = None
    fresh = False
    while not stop.is_set():
        if connection is not None and _closed_by_server(connection):
            connection.close()
            connection = None
        if connection is None:
            started = time.monotonic()
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_SECONDS)
            except ConnectionRefusedError:
                with outcomes.lock:
                    outcomes.refused.append(started)
                if signalled.is_set():
                    return  # the server is gone
                continue
            fresh = True
        sent = time.monotonic()
        try:
            connection.sendall(REQUEST)
            head, _ = _response(connection)
        except OSError as error:  # ConnectionError included: reset, or closed without an answer
            with outcomes.lock:
                outcomes.failed.append((sent, repr(error), fresh))
            connection.close()
            connection = None
            continue
        with outcomes.lock:
            if head.startswith(b"HTTP/1.1 200 "):
                outcomes.answered.append(sent)
            else:
                outcomes.failed.append((sent, head.split(b"\r\n", 1)[0].decode(), fresh))
        fresh = False
        if b"connection: close" in head.lower():
            connection.close()
            connection = None
    if connection is not None:
        connection.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path, sqlite_environment(tmp_path), workers=2)
    try:
        wait_until_every_worker_serves(running)
        yield running
    finally:
        running.kill()


@pytest.mark.asvs("REL-06")
def test_sigterm_under_keep_alive_load_fails_no_request(server: Server) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    outcomes = Outcomes()
    signalled, stop = threading.Event(), threading.Event()
    loops = [threading.Thread(target=_loop, args=(port, outcomes, signalled, stop)) for _ in range(LOOPS)]
    for loop in loops:
        loop.start()
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while len(outcomes.answered) < REQUESTS_BEFORE_SIGNAL and not outcomes.failed:
            assert time.monotonic() < deadline, "the loops did not get going"
            time.sleep(0.01)  # between looks at the count, not a stand-in for it
        signal_time = time.monotonic()
        signalled.set()
        server.process.terminate()
        try:
            status = server.process.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit after SIGTERM:\n{server.log_text()[-3000:]}")
        assert status == 0, server.log_text()[-3000:]
    finally:
        stop.set()
        for loop in loops:
            loop.join(timeout=DEADLINE_SECONDS)
    assert not any(loop.is_alive() for loop in loops)
    before = [failure for failure in outcomes.failed if failure[0] < signal_time]
    assert not before, f"requests sent before the signal failed: {before}"
    accepted_then_reset = [failure for failure in outcomes.failed if failure[2]]
    assert not accepted_then_reset, f"connections accepted after the signal and not answered: {accepted_then_reset}"
    assert not outcomes.failed, f"requests on kept-alive connections failed: {outcomes.failed}"
    assert outcomes.refused, "the loops ran until the server refused them"
