"""What a `sump serve` worker has imported once it answers its first probe: none of the libraries that only some
requests need (they are imported by the code that uses them, on first use), nor any that Sump does not use.
Each costs start-up time and memory in every worker; this fails when an import at the top of a module brings one
back. (docs/performance.md, "Memory and start-up".)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import SUMP, free_port
from tests.support import SECRET

NOT_AT_START = {
    "authlib": "OpenID Connect and OAuth requests",
    "joserfc": "Authlib's OpenID Connect parts",
    "rich": "nothing: structlog's coloured output and tracebacks, typer's rich help",
    "pygments": "nothing: rich's syntax highlighting",
    "alembic": "the `sump db` commands",
    "webauthn": "passkey ceremonies",
    "pyotp": "TOTP enrolment and checks",
    "segno": "TOTP enrolment's QR code",
    "aiosmtplib": "email sent over SMTP",
    "jinja2": "the console, the hosted pages and rendered email",
    "swagger_ui": "nothing: only its static files are served, found without importing it",
}

# Runs `sump serve` as its console script does, in this process's main thread; a second thread polls the first
# probe and then prints the modules the process holds, and ends the process.
SERVE = """
import json, os, sys, threading, time, urllib.request
from sump.cli import app

def report(url):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    print(json.dumps(sorted(sys.modules)), flush=True)
                    os._exit(0)
        except OSError:
            time.sleep(0.02)  # between polls of the probe, not a stand-in for it
    os._exit(3)

port = sys.argv[1]
threading.Thread(target=report, args=(f"http://127.0.0.1:{port}/health/live",), daemon=True).start()
app(["serve", "--port", port])
"""


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_worker_serves_without_what_only_some_requests_need(tmp_path: Path, log_format: str) -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment |= {
        "SUMP_SECRET_KEY": SECRET,
        "SUMP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sump.db'}",
        "SUMP_LOG_FORMAT": log_format,
    }
    subprocess.run([str(SUMP), "db", "upgrade"], cwd=tmp_path, env=environment, check=True, capture_output=True)  # noqa: S603
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SERVE, str(free_port())],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = json.loads(done.stdout)
    assert "sump.health.routes" in modules  # it did serve the application
    loaded = {name.split(".")[0] for name in modules} & NOT_AT_START.keys()
    assert not loaded, {name: f"needed by {NOT_AT_START[name]}" for name in sorted(loaded)}
