"""`make bench` (bench/run): starts Sump, the peers from ../shared/peers/ and a bare ASGI callable, runs the
scenarios side by side, one system loaded at a time, and writes the ratios into docs/performance.md.

Modes: the full run (about 15 minutes), `--quick` (under 3 minutes: one short round of everything), `--soak S`
(goal 6's soak on its own: one worker, S seconds of mixed requests; see `soak`). Not a test: nothing fails on
timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import time
from dataclasses import dataclass
from typing import Any

from sump.kit.passwords import IDLE_RELEASE_SECONDS
from sumpbench import accounts, hot_paths, memory, report, scenarios, soak
from sumpbench.load import request
from sumpbench.scenarios import SUMP_CONNECTION_EACH, Case, log
from sumpbench.systems import (
    PG,
    System,
    load_average,
    migrate_sump,
    peers_available,
    start_bare,
    start_bare_select,
    start_fastapi_users,
    start_original,
    start_sump,
)


@dataclass
class Plan:
    seconds: float  # one wrk run
    rounds: int
    signin_seconds: float  # one round of one system
    signin_rounds: int
    overload_seconds: float
    overload_rounds: int
    argon2_seconds: float
    hog: bool
    factors: tuple[float, ...]


FULL = Plan(
    seconds=8,
    rounds=3,
    signin_seconds=5,
    signin_rounds=5,
    overload_seconds=15,
    overload_rounds=3,
    argon2_seconds=8,
    hog=True,
    factors=(2, 5),
)
QUICK = Plan(
    seconds=2,
    rounds=1,
    signin_seconds=3,
    signin_rounds=1,
    overload_seconds=5,
    overload_rounds=1,
    argon2_seconds=2,
    hog=False,
    factors=(2, 5),
)
ADMIN_USERS = 100_000
# What one sign-in sends to PostgreSQL, read off the server's statement log (log_min_duration_statement = 0).
SUMP_SIGN_IN = (
    "2 round trips, no transaction: the account by identifier; then one statement that writes the session and its"
    " audit row only while the account's row (read FOR SHARE) shows no new password or disabling since the hash"
    " began; the hash on a thread, the lockout and the per-address budget in shared memory"
)
FASTAPI_USERS_SIGN_IN = (
    "7 round trips: BEGIN, the user, the access token, COMMIT; then BEGIN, the token read back, ROLLBACK;"
    " the hash on the event loop"
)
ORIGINAL_SIGN_IN = "3 round trips, no transaction: the tenant, the account, the session; bcrypt cost 12"


async def _database(name: str, drop_only: bool = False) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{PG}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = QUICK if args.quick else FULL
    cores = os.cpu_count() or 1
    started = time.monotonic()
    out: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": _machine(),
        "load_before": load_average(),
        "cores": cores,
        "signin_workers": cores,
        "notes": [],
    }
    database, secret = f"sump_bench_{os.getpid()}", os.urandom(24).hex()
    systems: list[System] = []
    peers = peers_available() and not args.no_peers
    await _database(database)
    try:
        if peers:  # the peers start (and migrate) while Sump's database is migrated
            original, fu1 = start_original("peer_original_bench"), start_fastapi_users("peer_fu_bench_1", 1)
            systems += [original, fu1]
            # The second starts once the first is up: on a fresh machine the first builds the peer's venv, and two
            # at once would build it over each other.
            log(f"{fu1.name} ready in {fu1.wait_ready():.1f} s")
            fu2 = start_fastapi_users("peer_fu_bench_2", cores)
            systems.append(fu2)
        migrate_sump(database, secret)
        sump1, sump2, bare = (
            start_sump("sump-1w", database, secret, 1),
            start_sump("sump-2w", database, secret, cores),
            start_bare(),
        )
        systems += [sump1, sump2, bare]
        for system in systems:
            if not system.ready_s:  # the first fastapi-users peer was waited for already
                log(f"{system.name} ready in {system.wait_ready():.1f} s")
        await asyncio.sleep(1)
        out["rss_idle"] = sump1.rss_mib() + sump2.rss_mib()
        out["memory_1w"], out["memory_2w"] = memory.workers(sump1), memory.workers(sump2)

        owner = await accounts.new_tenant(sump1)
        bare_select = start_bare_select(database, owner.token, owner.tenant_id)
        systems.append(bare_select)
        log(f"{bare_select.name} ready in {bare_select.wait_ready():.1f} s")
        user_email, user_token = await accounts.end_user(sump1, owner.environment_id)
        await accounts.access_token(sump1, owner.environment_id, user_token)  # makes the environment's keys
        session_path = f"/api/v1/auth/tenants/{owner.tenant_id}/session"
        does_sump = "one SELECT by token digest joined with the account, no transaction; pure-ASGI path"
        cases = [
            Case("bare ASGI", bare, "/", {}, "nothing (a constant answer)"),
            Case(
                "bare ASGI + SELECT",
                bare_select,
                "/",
                {},
                "the tenant session check's SELECT of the bearer's session (asyncpg, prepared, one of 4"
                " connections), a small body",
            ),
            Case("Sump, cookie", sump1, session_path, {"Cookie": owner.cookie}, does_sump + ", HMAC cookie check"),
            Case("Sump, bearer", sump1, session_path, {"Authorization": f"Bearer {owner.token}"}, does_sump),
        ]
        if peers:
            theirs = await accounts.new_tenant(original)
            fu_user = await accounts.fastapi_user(fu1)
            cases += [
                Case(
                    "original Sump, cookie",
                    original,
                    f"/api/v1/auth/tenants/{theirs.tenant_id}/session",
                    {"Cookie": theirs.cookie},
                    "one session lookup, Node (NestJS), one process",
                ),
                Case(
                    "fastapi-users, cookie",
                    fu1,
                    "/users/me",
                    {"Cookie": fu_user.cookie},
                    "a transaction and two SELECTs (token, user)",
                ),
                Case(
                    "fastapi-users, bearer",
                    fu1,
                    "/users/me",
                    {"Authorization": f"Bearer {fu_user.token}"},
                    "a transaction and two SELECTs (token, user)",
                ),
            ]
        out["session"] = scenarios.interleaved(cases, [4, 32], plan.rounds, plan.seconds)
        jwks = f"/api/v1/environments/{owner.environment_id}/.well-known/jwks.json"
        etag_status, etag = await _etag(sump1, jwks)
        out["jwks"] = scenarios.interleaved(
            [
                Case("bare ASGI", bare, "/", {}, "nothing"),
                Case(
                    "Sump JWKS", sump1, jwks, {}, "no SQL: the body and ETag kept per worker for 10 s; pure-ASGI path"
                ),
                Case(
                    "Sump JWKS, If-None-Match",
                    sump1,
                    jwks,
                    {"If-None-Match": etag},
                    f"the same, answered {etag_status}",
                ),
            ],
            [4],
            plan.rounds,
            plan.seconds,
        )
        out["rss_after_checks"] = sump1.rss_mib()

        # 7. the other hot paths, one worker: the admin list of 100,000 end users, refresh, the SDK's JWT check
        out["admin_users"] = ADMIN_USERS
        seeded_s = await hot_paths.seed_end_users(database, owner.tenant_id, owner.environment_id, ADMIN_USERS)
        log(f"seeded {ADMIN_USERS:,} end users in {seeded_s:.1f} s")
        out["admin_list"] = [await hot_paths.admin_list(sump1, owner, 4, plan.seconds) for _ in range(plan.rounds)]
        out["refresh"] = await hot_paths.refresh(sump1, owner.environment_id, 4, plan.seconds)
        token = await accounts.access_token(sump1, owner.environment_id, user_token)
        out["jwt"] = await hot_paths.jwt_verification(sump1, owner.environment_id, token, plan.seconds / 2)

        # 2. sign-in: the same workers on each side, beside the bare argon2id rate on the same cores
        tenants = [await accounts.new_tenant(sump2) for _ in range(4)]
        signing = [
            ("sump", sump2, [t.login() for t in tenants], SUMP_SIGN_IN),
            # the open loop's pattern: what a connection per sign-in costs a closed loop
            (SUMP_CONNECTION_EACH, sump2, [t.login(close=True) for t in tenants], "the same, a connection each"),
        ]
        if peers:
            fu_users = [await accounts.fastapi_user(fu2) for _ in range(4)]
            signing.append(("fastapi-users", fu2, [u.login() for u in fu_users], FASTAPI_USERS_SIGN_IN))
            signing.append(("original", original, [theirs.login()], ORIGINAL_SIGN_IN))
        signin = await scenarios.sign_ins(signing, cores, plan.signin_rounds, plan.signin_seconds)
        out["signin"] = signin
        signin["sump_engine"] = sump2.logged("password hashing engine").get("engine", "an engine it did not log")
        capacity = out["capacity"] = signin["sump"].rps
        if peers:
            # Measured last here: stopped, they give back their database connections. With every system's pool
            # open, PostgreSQL's 100 connection slots ran out in a burst of sign-ups ("too many clients"), and
            # Sump answered two of them 503 `database_unavailable`.
            for peer in (original, fu1, fu2):
                peer.stop()

        # 4. bursts, before the overload runs: a burst right after the CPU hog's run would be judged by the pace
        # of hashing beside that hog (the pool's estimate of a hash's wall time), which no longer holds
        out["bursts"] = await scenarios.bursts(sump2, tenants[1].environment_id, tenants[1], 50, 30)
        # 3. overload, 5. fairness
        out["overload"] = await scenarios.overload_rounds(
            sump2, tenants[0], plan.factors, plan.overload_rounds, plan.signin_seconds, plan.overload_seconds
        )
        if plan.hog:
            out["argon2_hog"] = scenarios.argon2_rate(cores, plan.argon2_seconds, hog=2, library=signin["engine"])
            out["overload"].append(
                await scenarios.overload(sump2, tenants[0], capacity, 2, plan.overload_seconds, hog=2)
            )
        out["check_beside"] = await scenarios.check_beside_sign_ins(sump2, sump1, tenants[0], plan.overload_seconds / 2)
        out["fairness"] = await scenarios.fairness(sump2, tenants[2], tenants[3], capacity, plan.overload_seconds)
        out["rss_after"] = sump1.rss_mib() + sump2.rss_mib()
        loaded_until = time.monotonic()
        out["replacement_s"] = memory.replacement_start(sump2)

        # 6. start-up: a fresh one-worker server, from the command to its first answer
        out["starts_s"] = [
            scenarios.start_time(lambda: start_sump("sump-start", database, secret, 1)) for _ in range(plan.rounds)
        ]
        # An idle hashing thread gives its buffer back after IDLE_RELEASE_SECONDS: measured once they have passed.
        time.sleep(max(0.0, IDLE_RELEASE_SECONDS + 1 - (time.monotonic() - loaded_until)))
        out["rss_rested"] = sump1.rss_mib() + sump2.rss_mib()
        out["notes"].append(
            f"RSS per worker (MiB): idle {', '.join(f'{x:.0f}' for x in out['rss_idle'])}; after the runs "
            f"{', '.join(f'{x:.0f}' for x in out['rss_after'])}; {IDLE_RELEASE_SECONDS + 1:.0f} s or more after them "
            f"{', '.join(f'{x:.0f}' for x in out['rss_rested'])}. Start to first answer: "
            f"{', '.join(f'{x:.2f}' for x in out['starts_s'])} s."
        )
        out["notes"].append(f"JWT user for the JWKS keys: {user_email}; JWKS ETag {etag}.")
    finally:
        for system in systems:
            system.stop()
        with contextlib.suppress(Exception):
            await _database(database, drop_only=True)
        log("servers stopped, database dropped")
    out["load_after"] = load_average()
    out["elapsed"] = time.monotonic() - started
    return out


async def _etag(system: System, path: str) -> tuple[int, str]:
    from sumpbench.load import once

    _, headers, _ = await once(system.port, request("GET", path))
    etag = headers.get(b"etag", b"").decode()
    status, _, _ = await once(system.port, request("GET", path, headers={"If-None-Match": etag}))
    return status, etag


async def soak_run(seconds: float, write_doc: bool) -> None:
    """Goal 6's soak on a server of its own (see `soak`)."""
    database, secret = f"sump_soak_{os.getpid()}", os.urandom(24).hex()
    await _database(database)
    migrate_sump(database, secret)
    sump = start_sump("sump-soak", database, secret, 1)
    try:
        sump.wait_ready()
        result = await soak.run(sump, database, seconds)
    finally:
        sump.stop()
        await _database(database, drop_only=True)
    block = soak.render(result, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print(block)
    if write_doc:
        report.write_block(block, soak.BEGIN, soak.END)
        log(f"wrote {report.DOC}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short round of every scenario (under 3 minutes)")
    parser.add_argument("--soak", type=float, default=0, metavar="SECONDS", help="only goal 6's soak of mixed requests")
    parser.add_argument("--no-peers", action="store_true", help="Sump and the baselines only")
    parser.add_argument("--no-doc", action="store_true", help="print; do not rewrite docs/performance.md")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if args.soak:
        asyncio.run(soak_run(args.soak, not args.no_doc))
        return
    out = asyncio.run(run(args))
    print(report.render(out))
    if not args.no_doc:
        report.write(out)
        log(f"wrote {report.DOC}")
