"""A node stopped (SIGTERM) under load loses no request the proxy can retry: the node drains, and nginx sends an
idempotent request that met a closed connection to another node (`proxy_next_upstream`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fleet.fleet import DEADLINE_SECONDS, Fleet, Tenant

pytestmark = pytest.mark.fleet
LOOPS = 2
BEFORE_STOP = 100  # session checks answered before the node is stopped
AFTER_STOP = 100  # and after it exited


class Load:
    """Threads checking one session through the proxy, each over its own kept-alive connection."""

    def __init__(self, fleet: Fleet, path: str, auth: dict[str, str]) -> None:
        self.answers: list[int | str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._loop, args=(fleet.client(fleet.public_url), path, auth)) for _ in range(LOOPS)
        ]

    def _loop(self, http: httpx.Client, path: str, auth: dict[str, str]) -> None:
        with http:
            while not self.stop.is_set():
                try:
                    answer: int | str = http.get(path, headers=auth).status_code
                except httpx.HTTPError as exc:
                    answer = repr(exc)
                with self.lock:
                    self.answers.append(answer)

    def count(self) -> int:
        with self.lock:
            return len(self.answers)

    def until(self, count: int) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while self.count() < count:
            assert time.monotonic() < deadline, f"only {self.count()} of {count} answers"
            time.sleep(0.01)  # between looks at the count, which is what is awaited


@pytest.fixture
def load(fleet: Fleet, tenant: Tenant) -> Iterator[Load]:
    user = fleet.new_end_user(tenant)
    running = Load(fleet, f"/api/v1/auth/environments/{tenant.environment_id}/session", user.auth)
    for thread in running.threads:
        thread.start()
    yield running
    running.stop.set()
    for thread in running.threads:
        thread.join(DEADLINE_SECONDS)


def test_stopping_a_node_under_load_fails_no_request(fleet: Fleet, load: Load) -> None:
    stopped = 1
    try:
        load.until(BEFORE_STOP)
        assert fleet.nodes[stopped].stop() == 0
        exited_at = load.count()
        load.until(exited_at + AFTER_STOP)
    finally:
        load.stop.set()
        fleet.restart(stopped)
    failed = [answer for answer in load.answers if answer != 200]
    assert not failed, f"{len(failed)} of {len(load.answers)} failed: {failed[:5]}"
    assert f"127.0.0.1:{fleet.node_ports[stopped]}" in fleet.proxy.access_log(), "the stopped node had a share"
