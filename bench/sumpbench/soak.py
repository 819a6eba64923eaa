"""`make bench BENCH_ARGS="--soak SECONDS"`: goal 6's soak. One worker serves a mix of the requests a deployment
sees, closed loop at c=4, for SECONDS, its RSS sampled along the way; the result is written into
docs/performance.md between its own markers (a full run leaves them alone).

Each of the four connections has a part, so that every path that keeps something per request runs for the whole
soak: the session check by cookie and by bearer, JWKS with and without `If-None-Match`, and the 401 of a check
without credentials; the admin list of end users, following its `Link` pages; refresh-token rotation; and sign-ins
(a real argon2id hash each) of a tenant account and of an end user, with an address no account holds and a path
no route serves between them."""

from __future__ import annotations

import json
import time
from typing import Any

from sumpbench import accounts, hot_paths
from sumpbench.load import closed_loop, post_json, request
from sumpbench.scenarios import log
from sumpbench.systems import System

CONCURRENCY = 4
SEEDED_END_USERS = 2_000
WARMUP_SECONDS = 120.0  # what the allocator and the caches settle into is not growth
GROWTH_ALLOWED_MIB = 2.0
BEGIN, END = "<!-- soak:begin (written by make bench --soak) -->", "<!-- soak:end -->"


async def run(sump: System, database: str, seconds: float) -> dict[str, Any]:
    owner = await accounts.new_tenant(sump)
    env = owner.environment_id
    user_email, user_token = await accounts.end_user(sump, env)
    grant = await accounts.session_grant(sump, env, user_token)  # also makes the environment's keys
    await hot_paths.seed_end_users(database, owner.tenant_id, env, SEEDED_END_USERS)
    jwks = f"/api/v1/environments/{env}/.well-known/jwks.json"
    check = f"/api/v1/auth/tenants/{owner.tenant_id}/session"
    reads = [
        request("GET", check, headers={"Cookie": owner.cookie}),
        request("GET", check, headers={"Authorization": f"Bearer {owner.token}"}),
        request("GET", jwks),
        request("GET", jwks, headers={"If-None-Match": '"not-the-tag"'}),
        request("GET", check),
    ]
    first_page = f"/api/v1/environments/{env}/accounts?limit=50"
    sign_ins = [
        owner.login(),
        post_json(f"/api/v1/auth/environments/{env}/login", {"email": user_email, "password": accounts.PASSWORD}),
        # an address no account holds: its failures lock only itself out (then 429, before any hash)
        post_json(f"/api/v1/auth/environments/{env}/login", {"email": "nobody@bench.example.com", "password": "x"}),
        request("GET", f"/api/v1/nowhere/{time.time_ns()}"),
    ]
    state: dict[str, Any] = {"page": first_page, "refresh": grant["refreshToken"], "sent": [0] * CONCURRENCY}
    counts: dict[str, dict[int, int]] = {"reads": {}, "admin list": {}, "refresh": {}, "sign-ins": {}}
    parts = list(counts)

    def make(i: int) -> bytes:
        part = i % CONCURRENCY
        n = state["sent"][part]
        state["sent"][part] += 1
        if part == 0:
            return reads[n % len(reads)]
        if part == 1:
            return request("GET", state["page"], headers={"Authorization": f"Bearer {owner.token}"})
        if part == 2:
            return post_json(
                f"/api/v1/auth/environments/{env}/token",
                {"grantType": "refresh_token", "refreshToken": state["refresh"]},
            )
        return sign_ins[n % len(sign_ins)]

    def answered(index: int, status: int, headers: dict[bytes, bytes], body: bytes) -> None:
        tally = counts[parts[index]]
        tally[status] = tally.get(status, 0) + 1
        if index == 1:
            following = hot_paths.next_page(headers) if status == 200 else None
            state["page"] = following or first_page
        elif index == 2 and status == 200:
            state["refresh"] = json.loads(body)["refreshToken"]

    samples = [(0.0, max(sump.rss_mib()))]
    step = max(10.0, seconds / 20)
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        await closed_loop(sump.port, make, CONCURRENCY, min(step, seconds - elapsed), warmup=0, answered=answered)
        samples.append((time.monotonic() - started, max(sump.rss_mib())))
        log(f"soak: {samples[-1][0]:.0f} s, RSS {samples[-1][1]:.1f} MiB")
    settled = [rss for at, rss in samples if at >= min(WARMUP_SECONDS, seconds / 2)]
    return {
        "seconds": seconds,
        "samples": samples,
        "counts": counts,
        "growth": settled[-1] - settled[0],
        "peak_growth": max(settled) - settled[0],
    }


def render(result: dict[str, Any], when: str) -> str:
    samples, counts = result["samples"], result["counts"]
    met = result["peak_growth"] <= GROWTH_ALLOWED_MIB
    served = ", ".join(
        f"{part} {sum(tally.values()):,} ({', '.join(f'{status}: {n:,}' for status, n in sorted(tally.items()))})"
        for part, tally in counts.items()
    )
    return "\n".join(
        [
            BEGIN,
            "",
            f"### The soak ({when}, {result['seconds'] / 60:.0f} minutes, one worker, c={CONCURRENCY})",
            "",
            f"Served: {served}.",
            "",
            "| after (s) | " + " | ".join(f"{at:.0f}" for at, _ in samples) + " |",
            "|---|" + "---:|" * len(samples),
            "| RSS (MiB) | " + " | ".join(f"{rss:.1f}" for _, rss in samples) + " |",
            "",
            f"6. no growth over the soak (RSS after the first {WARMUP_SECONDS:.0f} s, at most"
            f" {GROWTH_ALLOWED_MIB:.0f} MiB above where it settled): {'met' if met else 'not met'}: the peak"
            f" {result['peak_growth']:+.1f} MiB, the end {result['growth']:+.1f} MiB.",
            "",
            END,
        ]
    )
