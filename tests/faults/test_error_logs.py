"""A statement that fails leaves no parameter value in the log: not the password hash, not the email, neither
in SQLAlchemy's text of the error nor in the driver's own message (PostgreSQL quotes a value it cannot read)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import Database

EMAIL = "leaky-SENTINEL@example.com"
HASH = "$argon2id$v=19$m=19456,t=2,p=1$SALTSENTINEL$HASHSENTINEL"

# Its own process, so that what the application logs can be read as it is written (stderr, both renderers).
SCRIPT = """
import asyncio, sys
import httpx
from sqlalchemy import text
from sump.app import create_app
from sump.config import Settings
from sump.kit.transactions import DbSession

EMAIL, HASH = sys.argv[3], sys.argv[4]
app = create_app(Settings(env=sys.argv[1], database_url=sys.argv[2], secret_key="s" * 48, rate_limits=False))
postgres = sys.argv[2].startswith("postgresql")

@app.post("/api/v1/test-only/unreadable")
async def unreadable(db: DbSession) -> None:
    # A statement the database refuses with the parameters in hand: a value that is not an integer
    # (PostgreSQL), a wrong number of parameters (SQLite).
    if postgres:
        await db.execute(text("SELECT CAST(:email AS integer), :hash"), {"email": EMAIL, "hash": HASH})
    else:
        await (await db.connection()).exec_driver_sql("SELECT ?", (EMAIL, HASH))

@app.post("/api/v1/test-only/duplicate")
async def duplicate(db: DbSession) -> None:
    await db.execute(text("CREATE TEMPORARY TABLE leak_probe (email TEXT UNIQUE, hash TEXT)"))
    for _ in range(2):
        await db.execute(text("INSERT INTO leak_probe VALUES (:email, :hash)"), {"email": EMAIL, "hash": HASH})

async def main() -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        for path in ("unreadable", "duplicate"):
            response = await http.post(f"/api/v1/test-only/{path}")
            print(response.status_code, response.json()["code"], flush=True)
    await app.state.engine.dispose()
    app.state.hasher.close()

asyncio.run(main())
"""


@pytest.mark.asvs("LOG-03")
@pytest.mark.parametrize("env", ["test", "prod"])
def test_a_failing_statement_logs_no_parameter_values(database: Database, env: str, tmp_path: Path) -> None:
    script = tmp_path / "leak.py"
    script.write_text(SCRIPT)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(script), env, database.url, EMAIL, HASH],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:2] == ["500 internal", "409 conflict"]
    log = done.stderr
    error_lines = [line for line in log.splitlines() if "unhandled_error" in line]
    assert len(error_lines) == 1, log[-3000:]
    assert "integrity_conflict" in log
    for value in ("SENTINEL", "argon2id", "leaky", "example.com"):
        assert value not in log, f"{value!r} was logged:\n{log[-3000:]}"
    # What is needed to find the fault is still there: the kind of error and where it was raised.
    (line,) = error_lines
    assert "leak.py" in log
    expected = "DataError" if database.backend == "postgresql" else "ProgrammingError"
    assert expected in line
    assert "SELECT" in log
