"""`sump serve --workers 2`: a socket per worker on one address, connections spread over the workers, a worker
that dies replaced, a graceful stop of all of them, and a refusal when the address is taken."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from sump.serving import EVENT_LOOP_BOOST, START_ATTEMPTS, _Supervisor
from tests.servers import SUMP, Server, free_port, sqlite_environment, start_server

CONNECTIONS = 24  # all of them landing on one of two workers by chance: 2 in 2**24
DEADLINE_SECONDS = 30


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path, sqlite_environment(tmp_path), workers=2)
    try:
        wait_until_every_worker_serves(running)
        yield running
    finally:
        running.kill()


def worker_pids(server: Server) -> set[int]:
    """The server's worker processes: the supervisor's children (it forks nothing else), as its threads list
    them (a read or two, where scanning every process took milliseconds a worker's start does not wait for)."""
    pids: set[int] = set()
    for children in Path(f"/proc/{server.process.pid}/task").glob("*/children"):
        try:
            pids.update(int(pid) for pid in children.read_text().split())
        except OSError:
            continue  # the thread ended while we looked
    return pids


def _open_files(pid: int) -> set[str]:
    links = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed while we looked (an earlier keep-alive connection)
            links.add(os.readlink(fd))
    return links


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _server_side_inode(server_port: int, client_port: int) -> str:
    """The inode of the accepted socket of a connection over 127.0.0.1, from the kernel's table."""
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    raise AssertionError(f"no server side for the connection from port {client_port}")


def serving_workers(server: Server) -> list[int]:
    """Opens CONNECTIONS connections at once, has each answered, and says which worker holds each one."""
    port = int(server.base_url.rsplit(":", 1)[1])
    connections = [socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_SECONDS) for _ in range(CONNECTIONS)]
    try:
        for connection in connections:
            connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for connection in connections:
            assert connection.recv(65536).startswith(b"HTTP/1.1 200 ")
        sockets_of = {pid: _open_files(pid) for pid in worker_pids(server)}
        owners = []
        for connection in connections:
            inode = _server_side_inode(port, connection.getsockname()[1])
            owners += [pid for pid, links in sockets_of.items() if f"socket:[{inode}]" in links]
        assert len(owners) == CONNECTIONS, "every connection is held by exactly one worker"
        return owners
    finally:
        for connection in connections:
            connection.close()


def wait_until_every_worker_serves(server: Server) -> set[int]:
    """The server answers once one worker has started; the others open their sockets when they have."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while len(workers := worker_pids(server)) < 2 or set(serving_workers(server)) != workers:
        assert time.monotonic() < deadline, f"not every worker serves:\n{server.log_text()[-3000:]}"
        time.sleep(0.05)  # between looks, leaving the cores to the workers that are starting
    return workers


def test_connections_are_spread_over_the_workers_and_all_stop_on_sigterm(server: Server) -> None:
    workers = worker_pids(server)
    assert len(workers) == 2
    assert set(serving_workers(server)) == workers
    assert server.stop() == 0
    assert not [pid for pid in workers if running(pid)]


def test_a_worker_that_dies_while_serving_is_replaced(server: Server) -> None:
    first = worker_pids(server)
    assert set(serving_workers(server)) == first  # both are serving
    killed = min(first)
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (now := worker_pids(server)) == first or len(now) < 2:
        assert time.monotonic() < deadline, f"no replacement for worker {killed}:\n{server.log_text()[-3000:]}"
        time.sleep(0.05)  # between looks at the process table, not a stand-in for them
    assert killed not in now
    assert wait_until_every_worker_serves(server) == now
    assert "worker exited" in server.log_text()
    assert server.stop() == 0


def test_workers_stop_when_the_supervisor_is_killed(server: Server) -> None:
    """SIGKILL leaves the supervisor no chance to stop its workers; the kernel tells them instead."""
    workers = worker_pids(server)
    server.process.kill()
    server.process.wait(timeout=DEADLINE_SECONDS)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while alive := [pid for pid in workers if running(pid)]:
        assert time.monotonic() < deadline, f"workers {alive} outlived their supervisor"
        time.sleep(0.05)  # between looks at the process table, not a stand-in for them
    port = int(server.base_url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_second_server_on_the_same_address_is_refused(server: Server, tmp_path: Path) -> None:
    port = server.base_url.rsplit(":", 1)[1]
    second = subprocess.run(  # noqa: S603
        [str(SUMP), "serve", "--host", "127.0.0.1", "--port", port, "--workers", "2"],
        cwd=tmp_path,
        env=sqlite_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    assert second.returncode == 1
    assert "address in use" in second.stderr
    assert len(serving_workers(server)) == CONNECTIONS, "the first server still answers every connection"


def _starts(path: Path) -> int:
    with path.open("a") as starts:
        starts.write("x")
    return len(path.read_text())


def dies_before_serving(host: str, port: int, ready: Event) -> None:
    _starts(Path(os.environ["SUMP_TEST_STARTS"]))
    raise SystemExit(3)


def serves_three_times_then_fails_to_start(host: str, port: int, ready: Event) -> None:
    if _starts(Path(os.environ["SUMP_TEST_STARTS"])) <= 3:
        ready.set()
    raise SystemExit(3)


def serves_and_ignores_sigterm(host: str, port: int, ready: Event) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    threading.Event().wait()


def test_a_worker_that_does_not_stop_is_killed_after_the_grace_period() -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    supervisor = _Supervisor("127.0.0.1", free_port(), 2, serves_and_ignores_sigterm, stop_timeout=1)
    stopped = threading.Event()

    def stop_once_both_serve() -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and not stopped.is_set():
            workers = list(supervisor.workers.values())
            if len(workers) == 2 and all(ready.is_set() for _, ready in workers):
                break
            time.sleep(0.05)  # between looks at the workers' ready flags
        stopped.set()
        os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_once_both_serve, daemon=True)
    try:
        stopper.start()
        assert supervisor.run() == 1, "a worker that had to be killed did not stop cleanly"
        assert stopped.is_set()
    finally:
        stopped.set()
        stopper.join()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert not [pid for pid in supervisor.signalled if running(pid)]


@pytest.mark.parametrize(
    ("target", "workers", "starts"),
    [(dies_before_serving, 1, START_ATTEMPTS), (serves_three_times_then_fails_to_start, 1, 3 + START_ATTEMPTS)],
)
def test_supervisor_replaces_only_workers_that_were_serving(
    target: object, workers: int, starts: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies after it served is replaced at once; one that dies before it served is tried again
    after a pause, and when it never serves in START_ATTEMPTS starts in a row the server stops with status 1."""
    counter = tmp_path / "starts"
    monkeypatch.setenv("SUMP_TEST_STARTS", str(counter))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    # Should the supervisor not end by itself, a SIGTERM stops it (its handler is in place) rather than the suite
    # hanging; the count of starts below then fails the test.
    guard = threading.Timer(4 * DEADLINE_SECONDS, os.kill, (os.getpid(), signal.SIGTERM))  # up to 7 starts
    try:
        guard.start()
        assert _Supervisor("127.0.0.1", free_port(), workers, target).run() == 1  # type: ignore[arg-type]
    finally:
        guard.cancel()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert len(counter.read_text()) == starts


def _nice(pid: int, tid: int) -> int:
    return int(Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_each_workers_event_loop_runs_above_its_hashing_threads(server: Server) -> None:
    """Where the system permits it (root here), each worker's event loop (its main thread) runs
    EVENT_LOOP_BOOST nice steps above the supervisor and above the worker's hashing threads, which keep the
    supervisor's priority."""
    assert os.geteuid() == 0, "this test reads the priorities root may set"
    base = _nice(server.process.pid, server.process.pid)
    for pid in worker_pids(server):
        tasks = {int(task.name): (task / "comm").read_text().strip() for task in Path(f"/proc/{pid}/task").iterdir()}
        hashing = [tid for tid, name in tasks.items() if name.startswith("sump-hash-")]
        assert hashing, tasks
        assert _nice(pid, pid) == base - EVENT_LOOP_BOOST
        assert {_nice(pid, tid) for tid in hashing} == {base}


def test_without_the_permission_the_event_loop_keeps_its_priority_and_says_so(tmp_path: Path) -> None:
    """Without CAP_SYS_NICE (dropped here, as an unprivileged user would lack it) the worker serves at the
    priority it was given, and says why once."""
    script = "import os; from sump.serving import favour_event_loop; favour_event_loop(); print(os.nice(0))"
    unprivileged = ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", sys.executable, "-c", script]
    ran = subprocess.run(unprivileged, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == str(os.nice(0))
    assert "event loop priority kept" in ran.stdout + ran.stderr
