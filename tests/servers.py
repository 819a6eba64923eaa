"""Real `sump serve` processes on a socket, for the tests that need one (walk-through, console, examples)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import SECRET

SUMP = Path(sys.executable).parent / "sump"
START_DEADLINE_SECONDS = 30
STOP_DEADLINE_SECONDS = 25


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connections are refused for as long as this lasts: it is bound and never listened
    on, so no other process (a server another test starts meanwhile) can take it, as a merely free port may be."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        port: int = held.getsockname()[1]
        yield port


def free_port() -> int:
    """A port free a moment ago: a refusing port, let go."""
    with refusing_port() as port:
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_live(self) -> None:
        """Polls /health/live until it answers, the process dies, or the deadline passes."""
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        with httpx.Client(base_url=self.base_url, timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"sump serve exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
                try:
                    if http.get("/health/live").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # between polls of the readiness endpoint, not a stand-in for it
        pytest.fail(f"sump serve did not answer within {START_DEADLINE_SECONDS} s:\n{self.log_text()[-3000:]}")

    def stop(self) -> int:
        """SIGTERM, then wait (bounded) for the exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"no exit {STOP_DEADLINE_SECONDS} s after SIGTERM:\n{self.log_text()[-3000:]}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def sqlite_environment(directory: Path, **settings: str) -> dict[str, str]:
    """The process environment of a test server on a SQLite file in `directory`; `settings` are `SUMP_…`."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment.update(
        SUMP_ENV="test",
        SUMP_SECRET_KEY=SECRET,
        SUMP_DATABASE_URL=f"sqlite+aiosqlite:///{directory / 'sump.db'}",
        SUMP_PUBLIC_URL="http://127.0.0.1",
    )
    environment.update(settings)
    return environment


def migrate(directory: Path, environment: dict[str, str]) -> None:
    """`sump db upgrade` on the database `environment` names."""
    migrated = subprocess.run(  # noqa: S603
        [str(SUMP), "db", "upgrade"], cwd=directory, env=environment, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr


def start_server(directory: Path, environment: dict[str, str], port: int | None = None, workers: int = 1) -> Server:
    """Migrates the database, starts `sump serve` and waits until it answers."""
    migrate(directory, environment)
    port = port or free_port()
    log = directory / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            [str(SUMP), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            cwd=directory,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        server.wait_until_live()
    except BaseException:
        server.kill()
        raise
    return server
