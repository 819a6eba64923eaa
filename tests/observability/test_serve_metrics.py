"""`sump serve --workers 2`: one scrape adds up the requests of both workers, whichever answers it, and the
counts of a worker that was killed stay in the sum after it is replaced."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import Server, sqlite_environment, start_server
from tests.test_serve_workers import wait_until_every_worker_serves, worker_pids

TOKEN = "metrics-token-0123456789abcdef"
REQUESTS = 40  # each on a connection of its own: all of them on one worker by chance, 2 in 2**40
DEADLINE_SECONDS = 30
LIVE = ("GET", "/health/live", "200")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path, sqlite_environment(tmp_path, SUMP_METRICS_TOKEN=TOKEN), workers=2)
    try:
        wait_until_every_worker_serves(running)
        yield running
    finally:
        running.kill()


def requests_counted(server: Server) -> dict[tuple[str, str, str], float]:
    """One scrape, on a new connection (so any worker may answer it): requests by (method, route, status)."""
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        response = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    counted = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "sump_http_requests_total":
                counted[(sample.labels["method"], sample.labels["route"], sample.labels["status"])] = sample.value
    return counted


def test_one_scrape_adds_up_every_workers_requests(server: Server) -> None:
    before = requests_counted(server)[LIVE]
    for _ in range(REQUESTS):
        with httpx.Client(base_url=server.base_url, timeout=10) as http:  # a new connection each time
            assert http.get("/health/live").status_code == 200
    scrapes = [requests_counted(server)[LIVE] - before for _ in range(6)]
    assert scrapes == [REQUESTS] * 6

    victim = min(worker_pids(server))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while victim in worker_pids(server) or len(worker_pids(server)) < 2:
        assert time.monotonic() < deadline, server.log_text()[-3000:]
        time.sleep(0.05)  # between looks at the process table while the supervisor replaces the worker
    wait_until_every_worker_serves(server)
    # Its requests are still counted, beside the new worker's (the readiness checks above add to /health/live).
    assert requests_counted(server)[LIVE] - before >= REQUESTS
