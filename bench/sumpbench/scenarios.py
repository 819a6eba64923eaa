"""The scenarios. Each loads one system at a time, interleaves the systems round by round, and returns rows of
figures; ratios are taken between figures of the same run only."""

from __future__ import annotations

import asyncio
import compileall
import importlib.util
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sumpbench import bare_hash
from sumpbench.accounts import Tenant
from sumpbench.load import Measured, at_once, closed_loop, open_loop, post_json, wrk
from sumpbench.systems import FASTAPI_USERS_PYTHON, Hog, System, load_average

SESSION_PROBE_RATE = 100.0  # session checks per second beside an overload of sign-ins
PEER_CFFI = "argon2-cffi, fastapi-users' venv"  # the portable wheel fastapi-users hashes with

SUMP_CONNECTION_EACH = "sump, a connection per sign-in"  # its sign-in row with the open loop's pattern


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Case:
    """One way of loading one system: a path and its headers (a credential)."""

    label: str
    system: System
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    does: str = ""  # what the system does per request, for the report


@dataclass
class Row:
    label: str
    concurrency: int
    runs: list[Measured]
    cpu_ms: float  # server CPU per request, mean over the runs
    does: str = ""

    @property
    def rps(self) -> float:
        return statistics.median(run.rps for run in self.runs)

    @property
    def p50(self) -> float:
        return statistics.median(run.p50 for run in self.runs)

    @property
    def p99(self) -> float:
        return statistics.median(run.p99 for run in self.runs)

    @property
    def non_2xx(self) -> int:
        return sum(run.non_2xx for run in self.runs)


def interleaved(cases: list[Case], concurrency: list[int], rounds: int, seconds: float) -> list[Row]:
    """wrk on each case in turn, `rounds` times, for each concurrency: one system loaded at a time, and slow
    drifts of the machine spread over every system alike. The median round is reported."""
    runs: dict[tuple[str, int], list[Measured]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    for c in concurrency:
        for round_ in range(rounds):
            for case in cases:
                before = case.system.cpu_seconds()
                measured = wrk(case.system.url(case.path), c, seconds, case.headers)
                used = case.system.cpu_seconds() - before
                runs.setdefault((case.label, c), []).append(measured)
                cpu.setdefault((case.label, c), []).append(used * 1000 / max(1, measured.requests))
                log(
                    f"{case.label} c={c} round {round_ + 1}: {measured.rps:,.0f}/s p99 {measured.p99:.1f} ms"
                    f" non-2xx {measured.non_2xx}"
                )
    return [
        Row(case.label, c, runs[(case.label, c)], statistics.mean(cpu[(case.label, c)]), case.does)
        for c in concurrency
        for case in cases
    ]


async def sign_ins(
    systems: list[tuple[str, System, list[bytes], str]], threads: int, rounds: int, seconds: float
) -> dict[str, Any]:
    """Closed loops of sign-ins at c=8 on each system in turn, `rounds` times, each round opened by the bare
    argon2id rates on `threads` threads (`bare_hash.LIBRARIES`: Sump's two engines as this venv has them, the
    second also as Sump's hashing threads run it; then argon2-cffi's in fastapi-users' venv, its own library):
    one system loaded at a time, and a drift of the machine's pace (which moves argon2id itself by a tenth
    between minutes here) meets every system and its baselines alike.

    Returns each system's row (one run per round), the median baselines, and each system's ratios taken round by
    round (to the fastest bare rate of its own round, to its own library's, to Sump in the same round), then
    their median."""
    rows: dict[str, list[Measured]] = {name: [] for name, *_ in systems}
    cpu: dict[str, list[float]] = {name: [] for name, *_ in systems}
    does = {name: what for name, *_, what in systems}
    peer = (PEER_CFFI,) if FASTAPI_USERS_PYTHON.exists() else ()  # once fastapi-users' start made its venv
    bare: dict[str, list[float]] = {library: [] for library in (*bare_hash.LIBRARIES, *peer)}
    for round_ in range(rounds):
        for library in bare:
            bare[library].append(argon2_rate(threads, seconds, library=library))
        for name, system, logins, _ in systems:
            before = system.cpu_seconds()
            # No warm-up: the CPU read around the loop is then that of the sign-ins counted.
            measured = await closed_loop(
                system.port, lambda i, logins=logins: logins[i % len(logins)], 8, seconds, warmup=0
            )
            cpu[name].append((system.cpu_seconds() - before) * 1000 / max(1, measured.requests))
            rows[name].append(measured)
            log(
                f"{name} sign-in round {round_ + 1}: {measured.rps:.1f}/s p99 {measured.p99:.0f} ms {measured.extra['statuses']}"
            )
    engine = max(bare_hash.LIBRARIES, key=lambda library: statistics.median(bare[library]))
    own = {"sump": engine, **{"fastapi-users": library for library in peer}}  # the original hashes with bcrypt
    first = systems[0][0]
    return {
        "engine": engine,
        "argon2": statistics.median(bare[engine]),
        "bare": {library: statistics.median(rates) for library, rates in bare.items()},
        "bare_of_engine": {
            library: statistics.median(a / b for a, b in zip(rates, bare[engine], strict=True))
            for library, rates in bare.items()
        },
        **{name: Row(name, 8, runs, statistics.mean(cpu[name]), does[name]) for name, runs in rows.items()},
        "of_argon2": {
            name: statistics.median(run.rps / rate for run, rate in zip(runs, bare[engine], strict=True))
            for name, runs in rows.items()
        },
        "of_own": {
            name: statistics.median(run.rps / rate for run, rate in zip(runs, bare[own[name]], strict=True))
            for name, runs in rows.items()
            if name in own
        },
        "of_first": {
            name: statistics.median(a.rps / b.rps for a, b in zip(rows[first], runs, strict=True) if b.rps)
            for name, runs in rows.items()
            if name != first
        },
    }


def argon2_rate(threads: int, seconds: float, hog: int = 0, library: str = "libsodium") -> float:
    """Bare argon2id verifications per second (`bare_hash`), in this process, or for `PEER_CFFI` under
    fastapi-users' Python."""
    hogs = Hog(hog) if hog else None
    try:
        if library == PEER_CFFI:
            argv = [str(FASTAPI_USERS_PYTHON), bare_hash.__file__, "argon2-cffi", str(threads), str(seconds)]
            done = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=seconds + 120)
            rate = float(done.stdout)
        else:
            rate = bare_hash.rate(library, threads, seconds)
    finally:
        if hogs:
            hogs.stop()
    beside = f" beside {hog} busy processes" if hog else ""
    log(f"bare argon2id ({library}) on {threads} threads{beside}: {rate:.1f}/s")
    return rate


async def overload(
    sump: System, tenant: Tenant, capacity: float, factor: float, seconds: float, hog: int = 0
) -> dict[str, Any]:
    """Sign-ins offered at `factor` × capacity (open loop) while session checks are probed beside them: four
    keep-alive connections sending 100 checks a second in all (a steady background of an application's
    checks, not a second saturating load, which would take the cores the sign-ins are measured on)."""
    hogs = Hog(hog) if hog else None
    try:
        check = tenant.session_check()
        (hashing, rest), generator, started = sump.hashing_cpu_seconds(), time.process_time(), time.perf_counter()
        offered = asyncio.create_task(open_loop(sump.port, tenant.login(), capacity * factor, seconds))
        session = await closed_loop(sump.port, lambda i: check, 4, seconds - 1.0, warmup=0.5, rate=SESSION_PROBE_RATE)
        result = await offered
        elapsed, (hashing_after, rest_after) = time.perf_counter() - started, sump.hashing_cpu_seconds()
    finally:
        if hogs:
            hogs.stop()
    result.update(factor=factor, hog=hog, session_p99=session.p99, session_rps=session.rps, load=load_average())
    # Where the cores went meanwhile: Sump's hashing threads, the rest of Sump (the event loops: sign-ins,
    # refusals, the session probe), and the generators (the offered attempts' and this process's probe), which
    # share the machine with the server they load.
    generators = time.process_time() - generator + result["cpu_s"]
    result["cores"] = tuple(spent / elapsed for spent in (hashing_after - hashing, rest_after - rest, generators))
    log(
        f"overload {factor}x{' + hog' if hog else ''}: offered {result['offered_rate']:.1f}/s goodput"
        f" {result['goodput']:.1f}/s refused {result['refused']} (p99 {result['refused_p99_ms']:.0f} ms)"
        f" session p99 {session.p99:.1f} ms"
    )
    return result


async def overload_rounds(
    sump: System, tenant: Tenant, factors: tuple[float, ...], rounds: int, capacity_seconds: float, seconds: float
) -> list[dict[str, Any]]:
    """`overload` at each factor, `rounds` times, each window right after the capacity it is offered at and set
    against: a closed loop of the same sign-in at c=8 (the sign-in rounds' measure), moments before on the same
    pace of the machine, which here swings between minutes by more than the goal's margin. A capacity measured
    minutes earlier would judge the window by another pace."""
    login = tenant.login()
    results = []
    for round_ in range(rounds):
        for factor in factors:
            unloaded = await closed_loop(sump.port, lambda i: login, 8, capacity_seconds, warmup=1.0)
            result = await overload(sump, tenant, unloaded.rps, factor, seconds)
            result.update(capacity=unloaded.rps, round=round_ + 1)
            log(
                f"overload {factor}x round {round_ + 1}: {result['goodput'] / unloaded.rps:.2f} of {unloaded.rps:.1f}/s"
            )
            results.append(result)
    return results


async def check_beside_sign_ins(flooded: System, beside: System, tenant: Tenant, seconds: float) -> dict[str, Any]:
    """The session check, probed as in `overload`, on a server whose hashing sign-ins keep full (a closed loop at
    c=8), then on a server beside it on the same machine and database that signs nobody in: what of the check's
    latency under a flood is the machine's (the second), and what the flooded workers' own event loops add."""
    login = tenant.login()
    check = tenant.session_check()
    flood = asyncio.create_task(closed_loop(flooded.port, lambda i: login, 8, 2 * seconds + 1.5, warmup=0.5))
    await asyncio.sleep(1.0)  # the flood's warm-up: its connections are open and hashing
    on_flooded = await closed_loop(flooded.port, lambda i: check, 4, seconds, warmup=0.3, rate=SESSION_PROBE_RATE)
    on_beside = await closed_loop(beside.port, lambda i: check, 4, seconds, warmup=0.3, rate=SESSION_PROBE_RATE)
    sign_ins = await flood
    result = {
        "flooded_p50": on_flooded.p50,
        "flooded_p99": on_flooded.p99,
        "beside_p50": on_beside.p50,
        "beside_p99": on_beside.p99,
        "sign_ins": sign_ins.rps,
    }
    log(f"session check beside sign-ins at c=8: {result}")
    return result


async def bursts(sump: System, environment_id: str, tenant: Tenant, signups: int, logins: int) -> dict[str, Any]:
    """`signups` sign-ups with distinct emails, all at once; then `logins` sign-ins at once."""
    import uuid

    bodies = []
    for _ in range(signups):
        tag = uuid.uuid4().hex[:12]
        bodies.append(
            post_json(
                f"/api/v1/auth/environments/{environment_id}/signup",
                {
                    "name": f"B {tag}",
                    "email": f"b{tag}@bench.example.com",
                    "username": f"b{tag}",
                    "password": "bench-password-Xq7!",
                },
            )
        )
    up = await at_once(sump.port, bodies)
    ins = await at_once(sump.port, [tenant.login() for _ in range(logins)])
    result = {
        "signups": len(up),
        "signups_ok": sum(1 for status, _ in up if status == 201),
        "signups_max_s": max(seconds for _, seconds in up),
        "logins": len(ins),
        "logins_ok": sum(1 for status, _ in ins if status == 200),
        "logins_max_s": max(seconds for _, seconds in ins),
        "refused": sum(1 for status, _ in up + ins if status in (429, 503)),
    }
    log(f"bursts: {result}")
    return result


async def fairness(sump: System, flooded: Tenant, quiet: Tenant, capacity: float, seconds: float) -> dict[str, Any]:
    """Tenant A's sign-ins offered at 5× capacity while tenant B's arrive at 10% of it."""
    a = asyncio.create_task(open_loop(sump.port, flooded.login(), capacity * 5, seconds))
    b = await open_loop(sump.port, quiet.login(), max(0.5, capacity * 0.1), seconds)
    a_result = await a
    offered_b = b["ok"] + b["refused"] + b["other"]
    result = {
        "a_goodput": a_result["goodput"],
        "a_refused": a_result["refused"],
        "b_offered": offered_b,
        "b_ok": b["ok"],
        "b_refused": b["refused"],  # answered 503: the hashing pool's refusal
        "b_other": b["other"],  # anything else: another status, or no answer (a connection refused or cut)
        "b_success": b["ok"] / max(1, offered_b),
        "b_p99_ms": b["ok_p99_ms"],
        "load": load_average(),
    }
    log(f"fairness: {result}")
    return result


def start_time(start: Any) -> float:
    """Seconds from `sump serve` to its first answer, on a server started for this alone. Sump's modules are
    compiled first, as `pip install` leaves an installed Sump (the image's): an editable checkout run with
    PYTHONDONTWRITEBYTECODE would compile its 200 modules again at every start."""
    compileall.compile_dir(Path(importlib.util.find_spec("sump").origin).parent, quiet=1)
    system: System = start()
    try:
        return system.wait_ready()
    finally:
        system.stop()
