"""End to end: a real `sump serve` process on a socket, the README walk-through over HTTP, then a graceful stop."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import pytest

from tests.servers import STOP_DEADLINE_SECONDS, SUMP, Server, free_port, migrate, sqlite_environment, start_server
from tests.support import set_cookies

GRACEFUL_EXIT_SECONDS = 25


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path, sqlite_environment(tmp_path))
    try:
        yield running
    finally:
        running.kill()


def cookie_of(response: httpx.Response) -> str:
    """The `name=value` pair of the `sump_session` cookie the response sets (once: `set_cookies` holds to that)."""
    cookies = set_cookies(response)
    assert "sump_session" in cookies, cookies
    return f"sump_session={cookies['sump_session'].value}"


@pytest.mark.asvs("REL-06", "LOG-03")
def test_walk_through_over_real_http_then_graceful_stop(server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    password = f"P@ss-SENTINEL-{tag}-walkthrough"
    email = f"owner-{tag}@example.com"
    # No cookie is kept by the client: every request below says which cookie it sends.
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    with httpx.Client(base_url=server.base_url, timeout=10, cookies=jar) as http:
        assert http.get("/health/ready").status_code == 200

        created = http.post(
            "/api/v1/tenants",
            json={
                "tenant": {"name": f"Walkthrough {tag}"},
                "account": {"name": "Ada Owner", "email": email, "username": f"ada_{tag}", "password": password},
            },
        )
        assert created.status_code == 201, created.text
        tenant_id = created.json()["tenantId"]
        creation_token = created.json()["token"]

        login = http.post(f"/api/v1/auth/tenants/{tenant_id}/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        cookie = {"Cookie": cookie_of(login)}
        assert login.json()["session"]["ipAddress"] == "127.0.0.1"

        session = http.get(f"/api/v1/auth/tenants/{tenant_id}/session", headers=cookie)
        assert session.status_code == 200, session.text
        assert session.json()["id"] == login.json()["session"]["id"]
        assert session.json()["accountId"] == login.json()["accountId"]

        environment = http.post(f"/api/v1/tenants/{tenant_id}/environments", json={"name": "staging"}, headers=cookie)
        assert environment.status_code == 201, environment.text
        environments = http.get(f"/api/v1/tenants/{tenant_id}/environments", headers=cookie)
        assert {item["name"] for item in environments.json()} == {"default", "staging"}

        accounts = http.get(f"/api/v1/tenants/{tenant_id}/accounts", headers=cookie)
        assert accounts.status_code == 200, accounts.text
        assert [account["email"] for account in accounts.json()] == [email]

        logout = http.post(f"/api/v1/auth/tenants/{tenant_id}/logout", headers=cookie)
        assert logout.status_code == 204
        assert cookie_of(logout) in {"sump_session=", 'sump_session=""'}

        after = http.get(f"/api/v1/auth/tenants/{tenant_id}/session", headers=cookie)
        assert after.status_code == 401
        assert after.json()["code"] == "unauthenticated"
        still = http.get(
            f"/api/v1/auth/tenants/{tenant_id}/session", headers={"Authorization": f"Bearer {creation_token}"}
        )
        assert still.status_code == 200, "logout ends only the session it was called with"

    in_flight = _login_across_sigterm(server, tenant_id, email, password)
    assert in_flight.startswith(b"HTTP/1.1 200 "), in_flight[:500]
    assert b"sump_session=" in in_flight

    try:
        code = server.process.wait(timeout=GRACEFUL_EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit {GRACEFUL_EXIT_SECONDS} s after SIGTERM:\n{server.log_text()[-3000:]}")
    log = server.log_text()
    for secret in (password, creation_token, login.json()["token"], cookie["Cookie"].split("=", 1)[1]):
        assert secret not in log
    assert code == 0, f"exit status {code} after SIGTERM\n{log[-3000:]}"


def _read_until(connection: socket.socket, marker: bytes | None) -> bytes:
    """Reads until `marker` has arrived, or (None) until the server closes the connection."""
    data = b""
    while marker is None or marker not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _wait_until_not_accepting(server: Server) -> None:
    """After SIGTERM the server stops listening first; poll (bounded) until a new connection is refused."""
    host, port = server.base_url.removeprefix("http://").split(":")
    deadline = time.monotonic() + GRACEFUL_EXIT_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            return
        time.sleep(0.02)  # between polls, not a stand-in for them
    pytest.fail("the server kept accepting connections after SIGTERM")


def _login_across_sigterm(server: Server, tenant_id: str, email: str, password: str) -> bytes:
    """A login whose request is in flight when SIGTERM arrives: it must still be answered (REL-06).

    `Expect: 100-continue` makes the server say when the application starts reading the body: from then on the
    request is in the application's hands. SIGTERM is sent, the server is seen to stop accepting new connections,
    and only then is the body sent.
    """
    body = json.dumps({"email": email, "password": password}).encode()
    head = (
        f"POST /api/v1/auth/tenants/{tenant_id}/login HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=GRACEFUL_EXIT_SECONDS) as connection:
        connection.sendall(head.encode())
        interim = _read_until(connection, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100"), interim

        server.process.send_signal(signal.SIGTERM)
        _wait_until_not_accepting(server)

        connection.sendall(body)
        return _read_until(connection, None)


def test_a_server_stopped_while_its_hashing_pool_prepares_exits_cleanly(tmp_path: Path) -> None:
    """SIGTERM as soon as the server catches it, before it has built the application: it builds it (its first
    hashing thread starts measuring the argon2id engine), sees the stop and ends at once. The exit waits for that
    thread's hash and ends with status 0, where the interpreter's tear-down under a thread still inside argon2 or
    libsodium crashed it (SIGSEGV or SIGILL)."""
    environment = sqlite_environment(tmp_path)
    migrate(tmp_path, environment)
    for _ in range(4):
        process = subprocess.Popen(  # noqa: S603
            [str(SUMP), "serve", "--host", "127.0.0.1", "--port", str(free_port())],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        said = b""
        while b"listening on" not in said and process.poll() is None:
            said += process.stdout.readline()
        _wait_until_it_catches(process, signal.SIGTERM)  # then the stop comes before the application is built
        process.send_signal(signal.SIGTERM)
        said += process.communicate(timeout=STOP_DEADLINE_SECONDS)[0]
        assert process.returncode == 0, said.decode(errors="replace")[-3000:]


def _wait_until_it_catches(process: subprocess.Popen[bytes], signum: int) -> None:
    """Polls (bounded) the process's caught signals in /proc until `signum` is among them."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with open(f"/proc/{process.pid}/status") as status:
            caught = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
        if caught & (1 << (signum - 1)):
            return
    pytest.fail(f"the server did not catch signal {signum}")
