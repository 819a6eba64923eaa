"""Memory and start-up of `sump serve`'s workers, from /proc: RSS, PSS and USS of each worker, and how long a
forked replacement worker takes from its supervisor's fork to a listening socket.

RSS counts every page a worker maps, shared ones included: forked workers share the supervisor's imported
modules copy-on-write, so their RSS overstates what each costs. PSS splits shared pages between their
sharers (the sum over the processes is the machine's cost); USS is what only this worker holds (what stopping
it would free)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from sumpbench.systems import System


@dataclass
class Footprint:
    rss: float  # MiB
    pss: float
    uss: float

    def __str__(self) -> str:
        return f"RSS {self.rss:.0f} / PSS {self.pss:.0f} / USS {self.uss:.0f}"


def footprint(pid: int) -> Footprint:
    fields: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
    except OSError:
        return Footprint(0, 0, 0)
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Footprint(fields.get("Rss", 0), fields.get("Pss", 0), private)


def workers(system: System) -> list[Footprint]:
    return [footprint(pid) for pid in system.serving_pids()]


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    return inodes


def _listens(pid: int, port: int) -> bool:
    inodes = _listening_inodes(port)
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
    except OSError:
        pass
    return False


def replacement_start(system: System, deadline: float = 60.0) -> float:
    """Kills one worker of a multi-worker server (SIGKILL, its own id) and returns the seconds until the
    supervisor's replacement listens on the port (a worker listens once its application has started)."""
    before = set(system.serving_pids())
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        new = [pid for pid in system.serving_pids() if pid not in before]
        if new and _listens(new[0], system.port):
            return time.monotonic() - started
        time.sleep(0.01)
    raise RuntimeError(f"{system.name}: no replacement worker listened within {deadline:.0f} s")
