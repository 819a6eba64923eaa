"""A throwaway PostgreSQL cluster that a test may stop, freeze and restart: made with the server binaries in a
temporary directory, on a free port, owned by the `postgres` user when the tests run as root. Never the shared
server on 5432."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
DEADLINE_SECONDS = 30


def _as_owner(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as `postgres` then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class Cluster:
    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = _as_owner([str(BIN / "pg_ctl"), "-D", str(self.data), *arguments])
        return subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE_SECONDS, check=check)  # noqa: S603

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.directory / "server.log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast", wait: bool = True) -> None:
        self._ctl("-m", mode, "-W" if not wait else "-w", "stop")

    def wait_stopped(self) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (self.data / "postmaster.pid").exists():
            assert time.monotonic() < deadline, "the cluster did not stop"
            time.sleep(0.05)  # polling for the pid file to go, with a deadline

    def processes(self) -> list[int]:
        """The postmaster and every process it started."""
        pid_file = self.data / "postmaster.pid"  # FileNotFoundError once stopped
        postmaster = int(pid_file.read_text().splitlines()[0])
        children = subprocess.run(  # noqa: S603
            ["/usr/bin/pgrep", "-P", str(postmaster)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def signal_all(self, signum: int) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def freeze(self) -> None:
        self.signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        self.signal_all(signal.SIGCONT)

    def restart(self) -> None:
        """Running again, from whatever state a test left it in (frozen, shutting down, stopped)."""
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            self.thaw()
        self._ctl("-m", "fast", "-w", "stop", check=False)
        self.wait_stopped()
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            if (self.data / "postmaster.pid").exists():
                self.thaw()
                pids = self.processes()
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A running cluster, removed afterwards whatever happened (its processes killed, its directory deleted)."""
    directory = Path(tempfile.mkdtemp(prefix="sump-pg-"))
    cluster = Cluster(directory, free_port())
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        command = _as_owner(
            [str(BIN / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]
        )
        subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)  # noqa: S603
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
