"""`sump serve --workers 2` under process faults: workers that die while starting.

The fault is real: the test plays the kernel's OOM killer and sends SIGKILL to a worker process while it is
still starting the application, before it serves. No hook in Sump is involved; the
supervisor sees what it would see after an OOM kill or a crash at start-up.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sump.serving import START_ATTEMPTS
from tests.servers import SUMP, Server, free_port, sqlite_environment, start_server
from tests.test_serve_workers import wait_until_every_worker_serves, worker_pids

DEADLINE_SECONDS = 60
ATTEMPT = re.compile(r'attempt(?:=|": )(\d+)')


def _naming(pid: int, lines: list[str]) -> list[str]:
    """The log lines about worker `pid` (the console's `pid=N` or JSON's `"pid": N`, not a longer pid)."""
    named = re.compile(rf'\bpid(?:=|": ){pid}\b')
    return [line for line in lines if named.search(line)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path, sqlite_environment(tmp_path), workers=2)
    try:
        wait_until_every_worker_serves(running)
        yield running
    finally:
        running.kill()


def _kill_next_worker(server: Server, known: set[int], http: httpx.Client) -> int:
    """Waits for a worker that is not in `known` and kills it at once, while it starts (the look is a read of the
    supervisor's children, a millisecond apart: a worker's start takes a tenth of a second); then a request to
    the server is answered, by the other worker."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (new := worker_pids(server) - known):
        assert server.process.poll() is None, f"the server stopped:\n{server.log_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no new worker:\n{server.log_text()[-3000:]}"
        time.sleep(0.001)  # between looks at the supervisor's children, not a stand-in for them
    pid = new.pop()
    os.kill(pid, signal.SIGKILL)
    assert http.get("/health/live").status_code == 200
    return pid


def test_a_worker_that_dies_while_starting_is_retried_while_the_other_serves(server: Server) -> None:
    first = worker_pids(server)
    survivor = max(first)
    os.kill(min(first), signal.SIGKILL)  # it was serving: replaced at once
    known = set(first)
    # A connection of its own for each request: a kept-alive one that the serving worker closes after its idle
    # seconds, while the test waits for the next start, may be reset under the request reusing it.
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=server.base_url, timeout=10, limits=fresh) as http:
        for _ in range(2):  # the replacement dies while it starts, and so does the next one
            known.add(_kill_next_worker(server, known, http))
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not worker_pids(server) - known:  # the next attempt, after a pause, is left alone
            assert server.process.poll() is None, f"the server stopped:\n{server.log_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no new attempt:\n{server.log_text()[-3000:]}"
            assert http.get("/health/live").status_code == 200
            time.sleep(0.02)  # between looks at the process table, not a stand-in for them
    workers = wait_until_every_worker_serves(server)
    assert len(workers) == 2
    assert workers & known == {survivor}
    failed = [line for line in server.log_text().splitlines() if "worker failed to start" in line]
    for pid in known - first:
        assert _naming(pid, failed), failed
    assert server.stop() == 0


def test_the_server_stops_when_no_worker_can_start(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            [str(SUMP), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=sqlite_environment(tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    killed: set[int] = set()
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while process.poll() is None:  # every worker the server starts dies while it starts
            assert time.monotonic() < deadline, f"the server did not give up:\n{server.log_text()[-3000:]}"
            for pid in worker_pids(server) - killed:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.02)  # between looks at the process table, not a stand-in for them
    finally:
        server.kill()
    assert process.returncode == 1
    text = server.log_text()
    assert "no worker could start" in text, text[-3000:]
    lines = text.splitlines()
    failed = [line for line in lines if "worker failed to start" in line]
    # A loaded machine can let a worker reach serving before its kill: then its place counts again from zero.
    served = [line for line in lines if "worker exited" in line]
    for pid in killed:
        assert _naming(pid, failed + served), pid
    assert len(killed) == len(failed) + len(served)
    attempts = [int(found[1]) for line in failed if (found := ATTEMPT.search(line))]
    assert len(attempts) == len(failed)
    assert max(attempts) == START_ATTEMPTS, "each worker was tried again, a bounded number of times"
    assert attempts.count(START_ATTEMPTS) == 2  # both places, and then the server stopped
    if not served:
        assert len(killed) == 2 * START_ATTEMPTS
