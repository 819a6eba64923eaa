"""Load generation: wrk (C, one thread) for the fast reads, where a Python generator would be the bottleneck;
a Python generator on raw keep-alive sockets for sign-ins (closed loop); `openloop.c` for offered rates (open
loop, retries included in the rate)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import PIPE
from typing import Any

WRK = shutil.which("wrk") or "/usr/bin/wrk"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def pct(values: list[float], p: float) -> float:
    """The p-th percentile of `values` (milliseconds in, milliseconds out); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Measured:
    """One measurement of one system: throughput, latency (ms) and what came back."""

    rps: float
    p50: float
    p99: float
    requests: int
    non_2xx: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, connections: int, seconds: float, headers: dict[str, str] | None = None) -> Measured:
    """`wrk -t1 -cN --latency` with fixed request headers."""
    argv = [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    done = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 60, check=True)
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    result = Measured(rps, p50, p99, requests, int(bad.group(1)) if bad else 0)
    if errors:
        result.extra["socket_errors"] = errors.group(0)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", out)
    if transfer and rps:
        scale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[transfer.group(2)]
        result.extra["bytes"] = float(transfer.group(1)) * scale / rps  # response bytes, headers included
    return result


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def post_json(path: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> bytes:
    return request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


def post_form(path: str, fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    body = urlencode(fields).encode()
    return request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if b":" in line:
            key, value = line.split(b":", 1)
            headers[key.strip().lower()] = value.strip()
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding") == b"chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = b""
    return status, headers, body


async def closed_loop(
    port: int,
    make: Callable[[int], bytes],
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
    answered: Callable[[int, int, dict[bytes, bytes], bytes], None] | None = None,
    rate: float | None = None,
) -> Measured:
    """`concurrency` keep-alive connections, each sending its next request when the last one was answered;
    the warm-up's requests are not counted. `make(i)` is called with i ≡ the connection's index (mod
    `concurrency`); `answered(connection, status, headers, body)` sees every answer (to follow links, say).
    With a `rate`, the connections together send at most that many requests per second, each on its own
    schedule (a probe of latency beside another load, not a load of its own)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    last: list[tuple[dict[bytes, bytes], bytes]] = []  # the last answer measured: its headers and body
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def one(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = index
        due = start + (index / rate if rate else 0.0)
        try:
            while (sent := time.perf_counter()) < stop_at:
                if rate:
                    await asyncio.sleep(max(0.0, due - sent))
                    due += concurrency / rate
                    sent = time.perf_counter()
                writer.write(make(i))
                i += concurrency
                status, headers, body = await read_response(reader)
                if answered is not None:
                    answered(index, status, headers, body)
                if sent >= measure_from:
                    statuses[status] = statuses.get(status, 0) + 1
                    latencies.append((time.perf_counter() - sent) * 1000)
                    last[:] = [(headers, body)]
                if headers.get(b"connection") == b"close":
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(concurrency))), warmup + seconds + 60)
    ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
    result = Measured(ok / seconds, pct(latencies, 50), pct(latencies, 99), sum(statuses.values()))
    result.non_2xx = result.requests - ok
    result.extra["statuses"] = statuses
    if last:  # its size on the wire: the status line, a line per header, the blank line, the body
        headers, body = last[0]
        result.extra["bytes"] = float(len(body) + sum(len(k) + len(v) + 4 for k, v in headers.items()) + 19)
    return result


async def once(port: int, data: bytes, timeout: float = 30.0) -> tuple[int, dict[bytes, bytes], bytes]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(data)
        return await asyncio.wait_for(read_response(reader), timeout)
    finally:
        writer.close()


async def at_once(port: int, requests: list[bytes]) -> list[tuple[int, float]]:
    """Every request on its own connection, all at the same moment: (status, seconds) each."""

    async def one(data: bytes) -> tuple[int, float]:
        started = time.perf_counter()
        try:
            status, _, _ = await once(port, data)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            status = 0
        return status, time.perf_counter() - started

    return list(await asyncio.gather(*(one(data) for data in requests)))


def openloop_binary() -> str:
    """`openloop.c` built for this machine (once per version of its source)."""
    source = Path(__file__).with_name("openloop.c")
    binary = Path(f"/tmp/sump-bench-openloop-{hashlib.sha256(source.read_bytes()).hexdigest()[:12]}")
    if not binary.exists():
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise RuntimeError("the open-loop generator needs a C compiler (apt-get install gcc)")
        subprocess.run([compiler, "-O2", "-o", f"{binary}.part", str(source)], check=True)
        Path(f"{binary}.part").rename(binary)
    return str(binary)


async def open_loop(port: int, data: bytes, rate: float, seconds: float) -> dict[str, Any]:
    """`data` offered every 1/rate s, each attempt on its own connection, whatever became of the earlier ones (a
    refused attempt's retry is simply one of the later attempts: retries are part of the offered rate), by
    `openloop.c`, which spends about a quarter of the CPU per attempt a Python generator did on the cores the
    server shares with it.

    Goodput counts the sign-ins that succeeded within the offered window only: those admitted near its end
    finish after it, from a queue of up to the admission wait, and counting them would credit the window with
    work done after it (a fifth more in a 15-second window, more in a shorter one)."""
    proc = await asyncio.create_subprocess_exec(
        openloop_binary(), str(port), str(rate), str(seconds), "15", stdin=PIPE, stdout=PIPE
    )
    out, _ = await proc.communicate(data)
    head, *lines = out.decode().splitlines()
    _, window, offered, cpu_s = head.split()
    results = [(int(status), float(ms), float(ended)) for status, ms, ended in map(str.split, lines)]
    ok = [ms for status, ms, _ in results if status == 200]
    refused = [ms for status, ms, _ in results if status in (429, 503)]
    in_window = sum(1 for status, _, ended in results if status == 200 and ended <= float(window))
    return {
        "offered_rate": int(offered) / float(window),
        "goodput": in_window / float(window),
        "ok": len(ok),
        "ok_after_window": len(ok) - in_window,
        "refused": len(refused),
        "other": len(results) - len(ok) - len(refused),
        "ok_p99_ms": pct(ok, 99),
        "refused_p99_ms": pct(refused, 99),
        "cpu_s": float(cpu_s),
    }
