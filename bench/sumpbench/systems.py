"""The systems a run loads: Sump (`sump serve`), the two peers from ../shared/peers/ and a bare ASGI callable on
the same server stack. Each is started in a process group of its own and stopped by that group's id."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT.parent / "shared" / "peers"
# The venv fastapi-users' start script makes (PEER_DIR), with the hashing library it signs in with.
FASTAPI_USERS_PYTHON = Path(os.environ.get("PEER_DIR", "/tmp/peer-fastapi-users")) / "venv" / "bin" / "python"
VENV_BIN = Path(sys.executable).parent
LOGS = Path("/tmp/sump-bench-logs")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PG = "postgresql://postgres@127.0.0.1:5432"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class System:
    """A running server: its name, port, process, and the URL that answers 200 once it serves."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    ready_url: str
    workers: int = 1
    ready_s: float = 0.0
    notes: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, deadline: float = 300.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {LOGS}/")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as answer:
                    if answer.status == 200:
                        self.ready_s = time.monotonic() - started
                        return self.ready_s
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready within {deadline:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=25)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)

    def serving_pids(self) -> list[int]:
        """The processes that answer requests: the workers (or the server itself when it has no children that
        serve), never helpers such as multiprocessing's resource tracker or npm's shell."""
        tree = [self.proc.pid, *descendants(self.proc.pid)]
        serving = []
        for pid in tree:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"resource_tracker" in cmd or cmd.startswith((b"sh\0", b"bash\0", b"/bin/sh\0", b"/usr/bin/bash\0")):
                continue
            serving.append(pid)
        children = [pid for pid in serving if pid != self.proc.pid]
        return children if self.workers > 1 and children else serving[-1:] if serving else []

    def logged(self, event: str) -> dict[str, Any]:
        """The last JSON record of `event` in this system's log (empty when there is none)."""
        records = [
            json.loads(line)
            for line in (LOGS / f"{self.name}.log").read_text(errors="replace").splitlines()
            if line.startswith("{") and f'"event": "{event}"' in line
        ]
        return records[-1] if records else {}

    def rss_mib(self) -> list[float]:
        return [rss(pid) for pid in self.serving_pids()]

    def cpu_seconds(self) -> float:
        return sum(cpu(pid) for pid in self.serving_pids())

    def hashing_cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds of the serving processes' hashing threads (named `sump-hash-N`), and of the rest of them."""
        hashing = 0.0
        for pid in self.serving_pids():
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    if (task / "comm").read_text().startswith("sump-hash"):
                        hashing += cpu(pid, int(task.name))
        return hashing, self.cpu_seconds() - hashing


def descendants(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split()):
                found += [child, *descendants(child)]
    except OSError:
        pass
    return found


def rss(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu(pid: int, thread: int | None = None) -> float:
    """CPU seconds (user and system) of a process, or of one of its threads."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread is not None else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def _spawn(name: str, argv: list[str], env: dict[str, str], cwd: Path | str = "/tmp") -> subprocess.Popen[bytes]:
    LOGS.mkdir(exist_ok=True)
    log = (LOGS / f"{name}.log").open("wb")
    return subprocess.Popen(
        argv, env=env, cwd=cwd, start_new_session=True, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )


def sump_env(database: str, port: int, secret: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    env.update(
        SUMP_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
        SUMP_ENV="prod",
        SUMP_EMAIL_BACKEND="console",  # prod needs a mailer chosen; the bench sends no email
        SUMP_SECRET_KEY=secret,
        SUMP_RATE_LIMITS="off",  # per-IP limits would refuse one generator's address; the lockout stays on
        SUMP_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    return env


def start_sump(name: str, database: str, secret: str, workers: int) -> System:
    port = free_port()
    argv = [str(VENV_BIN / "sump"), "serve", "--workers", str(workers), "--port", str(port), "--host", "127.0.0.1"]
    proc = _spawn(name, argv, sump_env(database, port, secret))
    return System(name, port, proc, f"http://127.0.0.1:{port}/health/ready", workers)


def migrate_sump(database: str, secret: str) -> None:
    subprocess.run(
        [str(VENV_BIN / "sump"), "db", "upgrade"],
        env=sump_env(database, 0, secret),
        check=True,
        cwd="/tmp",
        stdout=subprocess.DEVNULL,
    )


def start_original(database: str) -> System:
    port = free_port()
    proc = _spawn("original-sump", [str(PEERS / "original-sump" / "start"), str(port), database], dict(os.environ))
    return System("original-sump", port, proc, f"http://127.0.0.1:{port}/api/v1/health", 1)


def start_fastapi_users(database: str, workers: int) -> System:
    port = free_port()
    argv = [str(PEERS / "fastapi-users" / "start"), str(port), database, str(workers)]
    proc = _spawn(f"fastapi-users-{workers}w", argv, dict(os.environ))
    return System(f"fastapi-users {workers}w", port, proc, f"http://127.0.0.1:{port}/docs", workers)


def start_bare(module: str = "sumpbench.bare", env: dict[str, str] | None = None, name: str = "bare ASGI") -> System:
    """A bare ASGI callable (`sumpbench.bare`) on uvicorn with Sump's server options: one worker, uvloop, Sump's
    HTTP protocol (httptools, a response in one write), no access log. The floor of what any ASGI application
    can answer on this machine; with `sumpbench.bare_select`, of what a session check can."""
    port = free_port()
    argv = [
        str(VENV_BIN / "uvicorn"),
        f"{module}:app",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "sump.serving:OneWriteHttp",
        "--no-access-log",
        "--log-level",
        "warning",
        "--no-server-header",
    ]
    proc = _spawn(module.rsplit(".", 1)[-1], argv, {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT / "bench")})
    return System(name, port, proc, f"http://127.0.0.1:{port}/", 1)


def start_bare_select(database: str, session_token: str, tenant_id: str) -> System:
    """`sumpbench.bare_select` for the session of `session_token` in `tenant_id`: Sump's own statement of the
    tenant session check, compiled for asyncpg as `sump.db.direct` runs it."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    from sump.config import Settings
    from sump.db.direct import _compiled
    from sump.db.tables.sessions import AccountType
    from sump.kit.crypto import token_digest
    from sump.sessions.repository import _LIVE_IN

    sql, names = _compiled(dialect(), _LIVE_IN[AccountType.TENANT_ACCOUNT])
    assert names == ["digest", "now", "idle_since", "born_after", "context_id"], names
    env = {
        "BARE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "BARE_SQL": sql,
        "BARE_DIGEST": token_digest(session_token).hex(),
        "BARE_CONTEXT": tenant_id,
        "BARE_IDLE_SECONDS": str(Settings.model_fields["session_idle_ttl"].default),
        "BARE_ABSOLUTE_SECONDS": str(Settings.model_fields["session_absolute_ttl"].default),
    }
    return start_bare("sumpbench.bare_select", env, "bare ASGI + SELECT")


def peers_available() -> bool:
    return (PEERS / "original-sump" / "start").exists() and (PEERS / "fastapi-users" / "start").exists()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Hog:
    """Busy processes beside the server (a CPU hog), started and stopped by their own ids."""

    def __init__(self, processes: int) -> None:
        self.procs = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(processes)
        ]

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
