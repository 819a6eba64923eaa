"""`sump serve --workers 2` without Redis: the workers of one server share their counters, so the per-address
sign-in budget and the per-account lockout hold whichever worker answers."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.servers import Server, sqlite_environment, start_server
from tests.support import PASSWORD, tenant_body
from tests.test_serve_workers import _open_files, _server_side_inode, wait_until_every_worker_serves

SIGN_IN_BUDGET = 30  # a minute, per address (`sump.accounts.passwords.SIGN_IN_PER_IP`)
LOCK_AFTER = 10  # failures of one source before it is refused (`SUMP_LOCKOUT_THRESHOLD`'s default)
DEADLINE_SECONDS = 30
PROBES = 64  # connections tried to reach one given worker: all missing it by chance, 1 in 2**64


@dataclass
class Served:
    server: Server
    workers: list[int]
    login: str  # the tenant's sign-in path
    username: str  # its owner's, whose password is PASSWORD


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Two workers on one SQLite database, rate limits on, no Redis; addresses come from `X-Forwarded-For` (the
    test is the trusted proxy), pacing off so that only the lock counts; with a tenant owner to sign in as."""
    directory = tmp_path_factory.mktemp("serve-limits")
    environment = sqlite_environment(
        directory, SUMP_RATE_LIMITS="on", SUMP_TRUSTED_PROXIES="127.0.0.1", SUMP_LOCKOUT_MAX_DELAY="0"
    )
    environment.pop("SUMP_REDIS_URL", None)
    environment["TMPDIR"] = str(directory / "tmp")  # where the supervisor makes its counters' directory
    (directory / "tmp").mkdir()
    server = start_server(directory, environment, workers=2)
    try:
        workers = sorted(wait_until_every_worker_serves(server))
        body = tenant_body()
        with httpx.Client(base_url=server.base_url, timeout=DEADLINE_SECONDS) as http:
            created = http.post("/api/v1/tenants", json=body)
        assert created.status_code == 201, created.text
        yield Served(
            server, workers, f"/api/v1/auth/tenants/{created.json()['tenantId']}/login", body["account"]["username"]
        )
        assert server.stop() == 0
        assert not list((directory / "tmp").iterdir()), "the counters' directory outlived the server"
    finally:
        server.kill()


def test_the_workers_count_in_one_file_of_their_server(served: Served) -> None:
    [counters] = served.server.log.parent.glob("tmp/sump-counters-*/counters.sqlite")
    for worker in served.workers:
        assert str(counters) in _open_files(worker)


class Connection:
    """One kept-alive HTTP/1.1 connection, and the worker process that accepted it."""

    def __init__(self, server: Server) -> None:
        self.port = int(server.base_url.rsplit(":", 1)[1])
        self.socket = socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE_SECONDS)
        self.buffer = b""

    def request(self, method: str, path: str, body: Any = None, forwarded_for: str = "") -> tuple[int, Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(payload)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        if forwarded_for:
            head += f"X-Forwarded-For: {forwarded_for}\r\n"
        self.socket.sendall(head.encode() + b"\r\n" + payload)
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        header, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = header.decode("latin-1").split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(fields.get("content-length", "0"))
        while len(self.buffer) < length:
            self._receive()
        content, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split()[1]), json.loads(content) if content else None

    def _receive(self) -> None:
        chunk = self.socket.recv(65536)
        assert chunk, "the server closed the connection"
        self.buffer += chunk

    def worker(self, workers: list[int]) -> int:
        """The worker holding the server side of this connection (it has answered on it, so it accepted it)."""
        inode = _server_side_inode(self.port, self.socket.getsockname()[1])
        owners = [pid for pid in workers if f"socket:[{inode}]" in _open_files(pid)]
        assert len(owners) == 1, owners
        return owners[0]

    def close(self) -> None:
        self.socket.close()


@contextlib.contextmanager
def connection_to(server: Server, workers: list[int], worker: int) -> Iterator[Connection]:
    """A fresh connection that `worker` accepted: new connections until the kernel hands one to it."""
    for _ in range(PROBES):
        connection = Connection(server)
        try:
            assert connection.request("GET", "/health/live")[0] == 200
            if connection.worker(workers) == worker:
                yield connection
                return
        finally:
            connection.close()
    pytest.fail(f"no connection reached worker {worker} in {PROBES} tries")


def sign_in(served: Served, worker: int, password: str, address: str) -> tuple[int, Any]:
    """One sign-in as the tenant's owner from `address`, answered by `worker`."""
    with connection_to(served.server, served.workers, worker) as connection:
        body = {"username": served.username, "password": password}
        return connection.request("POST", served.login, body, address)


def within_one_window_of_the_clock(seconds: float) -> None:
    """The per-address budget counts in windows of whole clock minutes, weighing the last one's count as it
    fades: a burst that straddles two of them may let one or two more through by design. A burst that needs at
    most `seconds` starts, if need be, at the turn of the minute so the bound checked is exactly the budget."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.1)  # waits for the clock, which is what the bound depends on


def test_the_sign_in_budget_of_an_address_is_shared_by_the_workers(served: Served) -> None:
    workers = served.workers
    address = "203.0.113.30"
    answers: dict[int, list[tuple[int, Any]]] = {worker: [] for worker in workers}
    within_one_window_of_the_clock(20)
    started = time.monotonic()
    for attempt in range(SIGN_IN_BUDGET + 15):
        worker = workers[attempt % 2]  # every other sign-in on each worker
        answers[worker].append(sign_in(served, worker, PASSWORD, address))
    assert time.monotonic() - started < 20, "the burst outlasted the margin it was given before the minute turns"
    statuses = [status for replies in answers.values() for status, _ in replies]
    assert statuses.count(200) == SIGN_IN_BUDGET, statuses
    refused = [body for replies in answers.values() for status, body in replies if status != 200]
    assert [(body["status"], body["code"]) for body in refused] == [(429, "rate_limited")] * 15
    for worker in workers:
        assert {status for status, _ in answers[worker]} == {200, 429}, "each worker let some in and refused some"


def test_the_lockout_holds_whichever_worker_answers(served: Served) -> None:
    workers = served.workers
    address = "203.0.113.10"
    for attempt in range(LOCK_AFTER):  # half of the failures on each worker
        status, body = sign_in(served, workers[attempt % 2], f"wrong password {attempt}", address)
        assert status == 401, body
    for worker in workers:
        status, body = sign_in(served, worker, PASSWORD, address)
        assert (status, body.get("code")) == (429, "too_many_attempts"), f"worker {worker} let the password in"
