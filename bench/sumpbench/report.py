"""The report: figures and ratios of one run as Markdown, written into docs/performance.md between two markers
(the design text around them is kept)."""

from __future__ import annotations

import math
import statistics
from typing import Any

from sumpbench.scenarios import SUMP_CONNECTION_EACH, Row
from sumpbench.systems import ROOT

DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin (written by make bench) -->", "<!-- bench:end -->"


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def row(rows: list[Row], label: str, c: int) -> Row | None:
    return next((r for r in rows if r.label == label and r.concurrency == c), None)


def ratio(a: Row | float | None, b: Row | float | None) -> float:
    x = a.rps if isinstance(a, Row) else a
    y = b.rps if isinstance(b, Row) else b
    return x / y if x is not None and y else float("nan")


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**not met**")


def table(rows: list[Row], baseline: str) -> list[str]:
    lines = [
        f"| system, request | c | req/s | × {baseline} | p50 ms | p99 ms | non-2xx | server CPU ms/req | bytes/response |"
        " does per request |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        base = row(rows, baseline, r.concurrency)
        lines.append(
            f"| {r.label} | {r.concurrency} | {fmt(r.rps, 0)} | {fmt(ratio(r, base), 3)} | {fmt(r.p50, 2)} |"
            f" {fmt(r.p99, 2)} | {r.non_2xx} | {fmt(r.cpu_ms, 3)} | {fmt(r.runs[0].extra.get('bytes', float('nan')), 0)} |"
            f" {r.does} |"
        )
    return lines


def goals(out: dict[str, Any]) -> list[str]:
    rows: list[Row] = out.get("session", [])
    lines = ["| goal | measured | verdict |", "|---|---|---|"]

    def add(goal: str, measured: str, ok: bool | None) -> None:
        lines.append(f"| {goal} | {measured} | {verdict(ok)} |")

    for kind in ("cookie", "bearer"):
        sump4, bare4 = row(rows, f"Sump, {kind}", 4), row(rows, "bare ASGI", 4)
        if sump4 and bare4:
            r = ratio(sump4, bare4)
            add(
                f"1. session check ({kind}), 1 worker, c=4: ≥ 1/8 of bare ASGI",
                f"{fmt(r, 3)} (1/{fmt(1 / r, 1)})",
                r >= 0.125,
            )
            add(f"1. p99 at c=4 ≤ 5 ms ({kind})", f"{fmt(sump4.p99, 2)} ms", sump4.p99 <= 5)
        floor4 = row(rows, "bare ASGI + SELECT", 4)
        if sump4 and floor4:
            r = ratio(sump4, floor4)
            add(
                f"1. (reference) session check ({kind}), c=4, against a bare callable running the same SELECT",
                f"{fmt(r, 3)} (1/{fmt(1 / r, 1)}); {fmt(sump4.cpu_ms * 1000, 0)} against"
                f" {fmt(floor4.cpu_ms * 1000, 0)} µs of CPU a request",
                None,
            )
        sump32 = row(rows, f"Sump, {kind}", 32)
        if sump32:
            add(f"1. p99 at c=32 ≤ 20 ms ({kind})", f"{fmt(sump32.p99, 2)} ms", sump32.p99 <= 20)
        for c in (4, 32):
            sump = row(rows, f"Sump, {kind}", c)
            original = row(rows, "original Sump, cookie", c) if kind == "cookie" else None
            peer = row(rows, f"fastapi-users, {kind}", c)
            if sump and original:
                add(
                    f"1. ≥ 3× the original Sump, c={c} ({kind})",
                    f"{fmt(ratio(sump, original), 2)}×",
                    ratio(sump, original) >= 3,
                )
            if sump and peer:
                add(f"1. ≥ 4× fastapi-users, c={c} ({kind})", f"{fmt(ratio(sump, peer), 2)}×", ratio(sump, peer) >= 4)
    signin = out.get("signin", {})
    if "sump" in signin:
        sump, bare, share = signin["sump"], signin["argon2"], signin["of_argon2"]["sump"]
        add(
            "2. sign-in ≥ 0.90 of bare argon2id (same cores)",
            f"{fmt(share, 3)} ({fmt(sump.rps)} vs {fmt(bare)}/s by {signin['engine']}, the fastest bare hash; medians)",
            share >= 0.9,
        )
        requests = sum(run.requests for run in sump.runs)
        add("2. 0% refusals at c=8", f"{sump.non_2xx} non-2xx of {requests}", sump.non_2xx == 0)
        if "fastapi-users" in signin:
            r = signin["of_first"]["fastapi-users"]
            add(
                f"2. ≥ 1.0× fastapi-users, same argon2id parameters (Sump hashes with {signin['sump_engine']} here,"
                " fastapi-users with argon2-cffi's portable wheel), same workers",
                f"{fmt(r, 3)}×",
                r >= 1.0,
            )
            own = signin["of_own"]
            if "fastapi-users" in own:
                add(
                    "2. each beside the bare rate of its own hashing library (what the server adds to the hash)",
                    f"Sump {fmt(own['sump'], 3)} of {signin['engine']}'s (the fastest bare hash here),"
                    f" fastapi-users {fmt(own['fastapi-users'], 3)} of its argon2-cffi's",
                    None,
                )
    for result in out.get("overload", []):
        if result["hog"]:
            target = 0.8 * out["argon2_hog"]
            add(
                f"3. with a CPU hog, {result['factor']:g}× offered: goodput ≥ 0.8 × bare argon2id beside the same hog",
                f"{fmt(result['goodput'])}/s vs {fmt(out['argon2_hog'])}/s",
                result["goodput"] >= target,
            )
    for factor, windows in _windows_by_factor(out).items():
        shares = [w["goodput"] / w["capacity"] for w in windows]
        share, target = statistics.median(shares), 0.9 if factor <= 2 else 0.8
        add(
            f"3. {factor:g}× offered: goodput ≥ {target} × capacity (each window against the capacity measured just"
            " before it; the median of the rounds)",
            f"{fmt(share, 2)} (rounds {', '.join(fmt(x, 2) for x in shares)};"
            f" capacity {', '.join(fmt(w['capacity']) for w in windows)}/s)",
            share >= target,
        )
        if out.get("capacity"):
            add(
                f"3. (reference) {factor:g}× offered: goodput against the sign-in rounds' capacity, measured minutes"
                " earlier",
                f"{fmt(statistics.median(w['goodput'] for w in windows) / out['capacity'], 2)} × {fmt(out['capacity'])}/s",
                None,
            )
        session = statistics.median(w["session_p99"] for w in windows)
        add(
            f"3. {factor:g}× offered: session p99 ≤ 20 ms (median of the rounds)",
            f"{fmt(session, 1)} ms (rounds {', '.join(fmt(w['session_p99'], 1) for w in windows)})",
            session <= 20,
        )
        refusals = [w["refused_p99_ms"] for w in windows if w["refused"]]
        if refusals:
            refused = statistics.median(refusals)
            add(
                f"3. {factor:g}× offered: refusals answer in ≤ 100 ms (p99, median of the rounds)",
                f"{fmt(refused, 1)} ms (rounds {', '.join(fmt(x, 1) for x in refusals)})",
                refused <= 100,
            )
    beside = out.get("check_beside")
    if beside:
        add(
            "3. (reference) session check p99 while sign-ins keep the hashing full (c=8), against the same check on a"
            " server beside it that signs nobody in",
            f"{fmt(beside['flooded_p99'], 1)} ms against {fmt(beside['beside_p99'], 1)} ms"
            f" ({fmt(beside['flooded_p99'] / beside['beside_p99'], 2)}×)",
            None,
        )
    burst = out.get("bursts")
    if burst:
        ok = burst["signups_ok"] == burst["signups"] and burst["logins_ok"] == burst["logins"]
        add(
            f"4. {burst['signups']} sign-ups and {burst['logins']} sign-ins at once: all succeed, none refused",
            f"{burst['signups_ok']}/{burst['signups']} and {burst['logins_ok']}/{burst['logins']}, {burst['refused']} refused",
            ok and burst["refused"] == 0,
        )
        slowest = max(burst["signups_max_s"], burst["logins_max_s"])
        add("4. each within 3 s", f"slowest {fmt(slowest, 2)} s", slowest <= 3)
    fair = out.get("fairness")
    if fair:
        add(
            "5. tenant B at 10% while A is offered 5×: ≥ 95% succeed",
            f"{fmt(100 * fair['b_success'], 1)}% of {fair['b_offered']}",
            fair["b_success"] >= 0.95,
        )
        add("5. tenant B's p99 ≤ 2 s", f"{fmt(fair['b_p99_ms'], 0)} ms", fair["b_p99_ms"] <= 2000)
    if out.get("rss_idle"):
        worst = max(out["rss_idle"])
        add("6. idle RSS ≤ 120 MiB per worker", f"{fmt(worst)} MiB", worst <= 120)
    for label, kept in (("one worker", "memory_1w"), ("forked workers, each", "memory_2w")):
        if out.get(kept):
            shown = "; ".join(str(f) for f in out[kept])
            add(f"6. idle memory, {label} (MiB)", shown, max(f.pss for f in out[kept]) <= 120)
    if out.get("starts_s"):
        start = statistics.median(out["starts_s"])
        add(
            "6. a worker serves within 2 s of starting (the median of fresh starts)",
            f"{fmt(start, 2)} s (starts {', '.join(fmt(x, 2) for x in out['starts_s'])})",
            start <= 2,
        )
    if out.get("replacement_s") is not None:
        took = out["replacement_s"]
        add(
            "6. a forked replacement worker listens within 2 s of its predecessor's death",
            f"{fmt(took, 2)} s",
            took <= 2,
        )
    return lines + hot_path_goals(out)


def hot_path_goals(out: dict[str, Any]) -> list[str]:
    """Goal 7's paths that no peer has (see sumpbench.hot_paths): each against its goal or its bare floor."""
    lines = []
    runs = out.get("admin_list")
    if runs:
        admin = Row("admin list", 4, runs, math.nan)
        measured = (
            f"{fmt(admin.rps, 0)}/s, p50 {fmt(admin.p50, 2)} ms, p99 {fmt(admin.p99, 2)} ms (rounds"
            f" {', '.join(fmt(run.p99, 2) for run in runs)}), {admin.non_2xx} non-2xx"
        )
        users = f"{out['admin_users']:,}"
        lines.append(
            f"| 7. admin list, pages of 50 of {users} end users, c=4: p99 ≤ 20 ms (median of the rounds) | {measured} |"
            f" {verdict(admin.p99 <= 20)} |"
        )
    refresh = out.get("refresh")
    if refresh is not None:
        measured = f"{fmt(refresh.rps, 0)}/s, p50 {fmt(refresh.p50, 2)} ms, p99 {fmt(refresh.p99, 2)} ms, {refresh.non_2xx} non-2xx"
        lines.append(f"| 7. refresh-token rotation, c=4, one worker (no peer has it) | {measured} | – |")
    jwt = out.get("jwt")
    if jwt is not None:
        measured = f"{fmt(jwt['sdk'], 0)}/s, {fmt(jwt['sdk'] / jwt['bare'], 2)} × bare PyJWT ({fmt(jwt['bare'], 0)}/s), {jwt['fetches']} JWKS fetch"
        lines.append(f"| 7. SDK JWT verification, one core (no peer has it) | {measured} | – |")
    return lines


def render(out: dict[str, Any]) -> str:
    lines = [
        BEGIN,
        "",
        f"## Figures of the last run ({out['when']}, {out['mode']} mode, {fmt(out['elapsed'] / 60, 1)} min)",
        "",
    ]
    lines += [f"- Machine: {out['machine']}; load average before {out['load_before']}, after {out['load_after']}.", ""]
    lines += ["### Goals (issue 12)", "", *goals(out), ""]
    if out.get("session"):
        lines += ["### Session check and JWKS, one worker each, wrk -t1, median of the rounds", ""]
        lines += table(out["session"], "bare ASGI") + [""]
    if out.get("jwks"):
        lines += table(out["jwks"], "bare ASGI") + [""]
    signin = out.get("signin", {})
    if signin:
        rounds = len(signin["sump"].runs)
        lines += [
            f"### Sign-in, {out['signin_workers']} workers each, c=8, closed loop,"
            f" {rounds} interleaved round{'s' if rounds > 1 else ''}",
            "",
            "Each round measures bare argon2id (Sump's two engines: libsodium, and argon2-cffi as `make` builds it"
            " for this CPU, called as any program calls it and as Sump's hashing threads run it, in a buffer of"
            " their own on huge pages; then argon2-cffi's portable wheel, in fastapi-users' venv, which it hashes"
            " with), then each system in turn; a ratio is the median of the rounds' own, to the fastest bare rate.",
            "",
        ]
        lines += [
            "| system | sign-ins/s | × bare argon2id | p50 ms | p99 ms | non-2xx | server CPU ms/sign-in |"
            " bytes/response | does per sign-in |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        built = {
            "libsodium": "",
            "argon2-cffi": ", as Sump's venv has it",
            "sump-buffer": " (argon2-cffi's core in a thread's own buffer on huge pages, as Sump's hashing threads run it)",
        }
        for library, rate in sorted(signin["bare"].items(), key=lambda item: -item[1]):
            lines.append(
                f"| bare argon2id, {library}{built.get(library, '')}, {out['cores']} threads | {fmt(rate)} |"
                f" {fmt(signin['bare_of_engine'][library], 3)} | | | | | |"
                f" {'one verification, m=19 MiB t=2 p=1' if library == signin['engine'] else 'the same verification'} |"
            )
        for name in ("sump", SUMP_CONNECTION_EACH, "fastapi-users", "original"):
            if name in signin:
                r = signin[name]
                lines.append(
                    f"| {name} | {fmt(r.rps)} | {fmt(signin['of_argon2'][name], 3)} | {fmt(r.p50, 0)} |"
                    f" {fmt(r.p99, 0)} | {r.non_2xx} | {fmt(r.cpu_ms, 2)} |"
                    f" {fmt(r.runs[-1].extra.get('bytes', float('nan')), 0)} | {r.does} |"
                )
        lines.append("")
    if out.get("overload"):
        lines += ["### Overload (open loop, retries included in the offered rate)", ""]
        lines += [
            "| offered | round | hog | capacity/s | offered/s | goodput/s | × capacity | refused | refusal p99 ms"
            " | success p99 ms | session p99 ms | cores: hashing, rest of Sump, generator | load |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for r in out["overload"]:
            cores = ", ".join(fmt(share, 2) for share in r["cores"])
            capacity = r.get("capacity", out["capacity"])  # the hog's window: offered at the sign-in rounds' capacity
            lines.append(
                f"| {r['factor']:g}× | {r.get('round', '–')} | {'2 busy processes' if r['hog'] else '–'} |"
                f" {fmt(capacity)} | {fmt(r['offered_rate'])} | {fmt(r['goodput'])} |"
                f" {fmt(r['goodput'] / capacity, 2)} | {r['refused']} | {fmt(r['refused_p99_ms'], 1)} |"
                f" {fmt(r['ok_p99_ms'], 0)} | {fmt(r['session_p99'], 1)} | {cores} | {r['load']} |"
            )
        lines += [
            "",
            "Each window is offered at a factor of the capacity measured just before it (a closed loop of the same"
            " sign-in at c=8), and its goodput set against that capacity; the goals take the median of the rounds.",
            "",
            "The cores column: CPU per second of the window, by Sump's hashing threads, by the rest of Sump (its event"
            " loops: the sign-ins' own work, the refusals, the session probe) and by the generators (`openloop.c`'s"
            " attempts and the bench's session probe), which share the two cores with the server they load.",
            "",
        ]
    lines += [f"- {note}" for note in out.get("notes", [])]
    lines += ["", END]
    return "\n".join(lines)


def write(out: dict[str, Any]) -> None:
    write_block(render(out), BEGIN, END)


def write_block(block: str, begin: str, end: str) -> None:
    """`block` in place of the one between `begin` and `end` in docs/performance.md, or at its end."""
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def _windows_by_factor(out: dict[str, Any]) -> dict[float, list[dict[str, Any]]]:
    """The overload windows without a hog, by offered factor, in the order they ran."""
    windows: dict[float, list[dict[str, Any]]] = {}
    for result in out.get("overload", []):
        if not result["hog"]:
            windows.setdefault(result["factor"], []).append(result)
    return windows
