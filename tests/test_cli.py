"""The `sump` command as an operator meets it: real `sump` processes, their exit status and every line they print."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from sump import __version__
from sump.db import migrate
from tests.servers import free_port, refusing_port, sqlite_environment, start_server
from tests.support import PASSWORD, SECRET, tenant_body

SUMP = Path(sys.executable).parent / "sump"
POSTGRESQL = os.environ.get("SUMP_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REVISIONS = migrate.revisions()
HEAD = REVISIONS[-1]


def run(directory: Path, *args: str, stdin: str | None = None, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment.update(NO_COLOR="1", TERM="dumb", COLUMNS="200", SUMP_SECRET_KEY=SECRET)
    environment.update(variables)
    return subprocess.run(  # noqa: S603
        [str(SUMP), *args],
        cwd=directory,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sqlite(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'sump.db'}"


def test_version(tmp_path: Path) -> None:
    done = run(tmp_path, "--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"sump {__version__}\n", "")


@pytest.mark.parametrize(
    "command",
    [
        (),
        ("serve",),
        ("db",),
        ("db", "upgrade"),
        ("db", "downgrade"),
        ("db", "current"),
        ("keys", "rotate"),
        ("tenants", "create"),
        ("tenants", "list"),
        ("tenants", "delete"),
        ("import", "original"),
    ],
    ids=" ".join,
)
def test_help_shows_no_type_placeholders(tmp_path: Path, command: tuple[str, ...]) -> None:
    done = run(tmp_path, *command, "--help")
    assert done.returncode == 0, done.stderr
    assert re.findall(r"<[a-z ]+>", done.stdout) == [], done.stdout
    assert "Usage: sump" in done.stdout


def test_serve_help_names_its_values(tmp_path: Path) -> None:
    done = run(tmp_path, "serve", "--help")
    assert "--host HOST" in done.stdout
    assert "--port PORT" in done.stdout
    assert "--workers N" in done.stdout


# --- databases that cannot be used ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("upgrade",), ("downgrade",), ("current",), ("upgrade", "0003")])
def test_unreachable_postgresql_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    with refusing_port() as port:
        url = f"postgresql+asyncpg://postgres:hunter2@127.0.0.1:{port}/sump"
        done = run(tmp_path, "db", *command, SUMP_DATABASE_URL=url)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"sump: cannot use the database postgresql+asyncpg://postgres:***@127.0.0.1:{port}/sump: connection refused\n"
    )


def test_missing_postgresql_database_is_one_line(tmp_path: Path) -> None:
    """Schema commands need no secret, even with PostgreSQL: they neither sign nor seal anything."""
    name = f"sump_missing_{uuid.uuid4().hex[:12]}"
    url = f"{POSTGRESQL.rsplit('/', 1)[0]}/{name}"
    done = run(tmp_path, "db", "upgrade", SUMP_DATABASE_URL=url, SUMP_SECRET_KEY="")
    assert done.returncode == 1
    assert done.stderr == f'sump: cannot use the database {url}: database "{name}" does not exist\n'


def test_sqlite_file_in_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'sump.db'}"
    done = run(tmp_path, "db", "current", SUMP_DATABASE_URL=url)
    assert done.returncode == 1
    assert done.stderr == f"sump: cannot use the database {url}: the directory {tmp_path / 'missing'} does not exist\n"


def test_serve_migrate_with_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    with refusing_port() as port:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/sump"
        done = run(tmp_path, "serve", "--migrate", "--port", str(free_port()), SUMP_DATABASE_URL=url)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"sump: cannot use the database {url}: connection refused"
    assert "Traceback" not in done.stderr


# --- revisions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["upgrade", "downgrade"])
def test_unknown_revision_is_one_line(tmp_path: Path, command: str) -> None:
    assert run(tmp_path, "db", "upgrade", SUMP_DATABASE_URL=sqlite(tmp_path)).returncode == 0
    done = run(tmp_path, "db", command, "nonesuch", SUMP_DATABASE_URL=sqlite(tmp_path))
    assert done.returncode == 2
    assert done.stderr == (
        f"sump: no migration 'nonesuch'; the migrations are {', '.join(REVISIONS)} (or head, or base)\n"
    )
    assert run(tmp_path, "db", "current", SUMP_DATABASE_URL=sqlite(tmp_path)).stdout == f"{HEAD} (head)\n"


def test_upgrade_to_an_older_revision_says_the_database_is_past_it(tmp_path: Path) -> None:
    url = sqlite(tmp_path)
    done = run(tmp_path, "db", "upgrade", SUMP_DATABASE_URL=url)
    assert (done.returncode, done.stdout) == (0, f"database at {HEAD} (head)\n")

    older = run(tmp_path, "db", "upgrade", REVISIONS[2], SUMP_DATABASE_URL=url)

    assert older.returncode == 1
    assert older.stdout == ""
    assert older.stderr == (
        f"sump: the database is at {HEAD}, already past {REVISIONS[2]}; "
        f"to go back, run: sump db downgrade {REVISIONS[2]}\n"
    )
    assert run(tmp_path, "db", "current", SUMP_DATABASE_URL=url).stdout == f"{HEAD} (head)\n"


def test_step_by_step_upgrade_and_downgrade(tmp_path: Path) -> None:
    url = sqlite(tmp_path)
    assert run(tmp_path, "db", "current", SUMP_DATABASE_URL=url).stdout == "(no migration applied)\n"

    done = run(tmp_path, "db", "upgrade", REVISIONS[2], SUMP_DATABASE_URL=url)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"database at {REVISIONS[2]}\n", "")
    again = run(tmp_path, "db", "upgrade", REVISIONS[2], SUMP_DATABASE_URL=url)
    assert (again.returncode, again.stdout, again.stderr) == (0, f"database at {REVISIONS[2]}\n", "")

    forward = run(tmp_path, "db", "downgrade", HEAD, SUMP_DATABASE_URL=url)
    assert forward.returncode == 1
    assert forward.stderr == (
        f"sump: the database is at {REVISIONS[2]}, before {HEAD}; to go forward, run: sump db upgrade {HEAD}\n"
    )

    back = run(tmp_path, "db", "downgrade", SUMP_DATABASE_URL=url)
    assert (back.returncode, back.stdout) == (0, f"database at {REVISIONS[1]}\n")
    empty = run(tmp_path, "db", "downgrade", "base", SUMP_DATABASE_URL=url)
    assert (empty.returncode, empty.stdout) == (0, "database at (no migration applied)\n")
    nothing = run(tmp_path, "db", "downgrade", SUMP_DATABASE_URL=url)
    assert nothing.returncode == 1
    assert nothing.stderr == "sump: no migration is applied, so there is nothing to downgrade\n"


def test_schema_commands_generate_no_secret(tmp_path: Path) -> None:
    done = run(tmp_path, "db", "upgrade", SUMP_DATABASE_URL=sqlite(tmp_path), SUMP_SECRET_KEY="")
    assert (done.returncode, done.stdout) == (0, f"database at {HEAD} (head)\n")
    assert not (tmp_path / ".sump-secret").exists()


# --- serve ------------------------------------------------------------------------------------------------------


def test_serve_says_where_it_listens(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path, sqlite_environment(tmp_path), port=port)
    try:
        status = server.stop()
    finally:
        server.kill()
    assert status == 0
    lines = [line for line in server.log_text().splitlines() if "listening on" in line]
    assert len(lines) == 1, server.log_text()
    assert f"listening on http://127.0.0.1:{port} with 1 worker " in lines[0]


def test_serve_says_how_many_workers(tmp_path: Path) -> None:
    """Read as soon as it is said, before the workers are up (they are slow to start on a busy machine)."""
    port = free_port()
    environment = sqlite_environment(tmp_path)
    assert run(tmp_path, "db", "upgrade", **environment).returncode == 0
    process = subprocess.Popen(  # noqa: S603
        [str(SUMP), "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    assert f"listening on http://127.0.0.1:{port} with 2 workers " in first
    assert f"url=http://127.0.0.1:{port} workers=2" in first


# --- tenants made by the operator ----------------------------------------------------------------------------

OWNER = ("--owner-email", "Ada@Example.com", "--owner-username", "ada", "--owner-name", "Ada Lovelace")


def test_the_operator_creates_a_tenant_that_nobody_else_may(tmp_path: Path) -> None:
    """With tenant sign-up off, `sump tenants create` makes the tenant, its owner (who signs in with the password
    given) and the first environment, audited as the operator's; the API still refuses everyone else."""
    closed = {"SUMP_DATABASE_URL": sqlite(tmp_path), "SUMP_TENANT_SIGNUP": "off"}
    assert run(tmp_path, "db", "upgrade", **closed).returncode == 0
    made = run(
        tmp_path, "tenants", "create", "--name", "Analytical Engines", *OWNER, "--environment", "production",
        "--password-stdin", stdin=f"{PASSWORD}\n", **closed,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert [line.split(" ", 2)[0] for line in lines] == ["tenant", "owner", "environment"]
    (tenant_id, tenant_name), (owner_id, owner_email), (environment_id, environment_name) = (
        line.split(" ", 2)[1:] for line in lines
    )
    assert (tenant_name, owner_email, environment_name) == ("Analytical Engines", "ada@example.com", "production")
    assert PASSWORD not in made.stdout + made.stderr

    server = start_server(tmp_path, sqlite_environment(tmp_path, SUMP_TENANT_SIGNUP="off"))
    try:
        with httpx.Client(base_url=server.base_url) as http:
            login = http.post(f"/api/v1/auth/tenants/{tenant_id}/login", json={"username": "ada", "password": PASSWORD})
            assert login.status_code == 200, login.text
            assert login.json()["accountId"] == owner_id
            owner = {"Authorization": f"Bearer {login.json()['token']}"}
            tenant = http.get(f"/api/v1/tenants/{tenant_id}", headers=owner).json()
            assert [(one["id"], one["name"]) for one in tenant["environments"]] == [(environment_id, "production")]
            account = http.get(f"/api/v1/tenants/{tenant_id}/accounts/{owner_id}", headers=owner).json()
            assert account["roles"] == [{"role": "owner", "target": "tenant", "targetId": tenant_id}]
            events = http.get(
                f"/api/v1/tenants/{tenant_id}/audit-events", params={"action": "tenant.created"}, headers=owner
            ).json()
            assert [(event["actorType"], event["actorId"], event["targetId"]) for event in events] == [
                ("operator", None, tenant_id)
            ]
            refused = http.post("/api/v1/tenants", json=tenant_body())
            assert (refused.status_code, refused.json()["code"]) == (403, "tenant_signup_closed")
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("name", "password", "status", "said"),
    [
        ("Acme", "password", 1, "sump: the password: This password is too common; choose another."),
        ("A", PASSWORD, 2, "sump: --name: String should have at least 2 characters."),
    ],
    ids=["weak password", "short name"],
)
def test_a_tenant_the_api_would_refuse_is_not_made(
    tmp_path: Path, name: str, password: str, status: int, said: str
) -> None:
    """The API's rules, said per option on stderr; nothing is written."""
    database = {"SUMP_DATABASE_URL": sqlite(tmp_path)}
    assert run(tmp_path, "db", "upgrade", **database).returncode == 0
    made = run(
        tmp_path, "tenants", "create", "--name", name, *OWNER, "--password-stdin", stdin=f"{password}\n", **database
    )
    assert made.returncode == status
    assert made.stdout == ""
    assert [line for line in made.stderr.splitlines() if line.startswith("sump:")] == [said]
    with sqlite3.connect(tmp_path / "sump.db") as connection:
        assert connection.execute("SELECT count(*) FROM tenant").fetchone() == (0,)


@pytest.mark.parametrize(
    "command",
    [("keys", "rotate"), ("secret", "rotate"), ("tenants", "create", "--name", "Acme", *OWNER, "--password-stdin")],
    ids=lambda command: " ".join(command[:2]),
)
def test_a_command_on_the_tables_says_when_the_database_is_not_migrated(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    for revision in (None, REVISIONS[-2]):
        if revision is not None:
            assert run(tmp_path, "db", "upgrade", revision, SUMP_DATABASE_URL=sqlite(tmp_path)).returncode == 0
        done = run(tmp_path, *command, stdin=f"{PASSWORD}\n", SUMP_DATABASE_URL=sqlite(tmp_path))
        assert done.returncode == 1
        assert done.stdout == ""
        at = revision or "no migration"
        said = [line for line in done.stderr.splitlines() if "Traceback" in line or line.startswith("sump:")]
        assert said == [f"sump: the database is at {at}, not {HEAD}: run sump db upgrade first"]


def test_the_operator_lists_tenants_and_deletes_one_with_everything_in_it(tmp_path: Path) -> None:
    database = {"SUMP_DATABASE_URL": sqlite(tmp_path)}
    assert run(tmp_path, "db", "upgrade", **database).returncode == 0
    made = [
        run(
            tmp_path, "tenants", "create", "--name", name, *OWNER, "--password-stdin", stdin=f"{PASSWORD}\n", **database
        )
        for name in ("Analytical Engines", "Difference Engines")
    ]
    ids = [done.stdout.split()[1] for done in made]

    listed = run(tmp_path, "tenants", "list", **database)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(row[0], row[2:]) for row in rows] == [
        (ids[0], ["1", "1", "0", "Analytical Engines"]),
        (ids[1], ["1", "1", "0", "Difference Engines"]),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[1]) for row in rows)

    kept = run(tmp_path, "tenants", "delete", ids[0], stdin="n\n", **database)
    assert (kept.returncode, kept.stdout) == (1, "")
    assert kept.stderr.startswith(
        f"Delete the tenant Analytical Engines ({ids[0]}) and its 1 environments, 1 tenant accounts, 0 end users? [y/N]"
    )
    assert kept.stderr.endswith("sump: nothing deleted\n")
    deleted = run(tmp_path, "tenants", "delete", ids[0], stdin="y\n", **database)
    assert (deleted.returncode, deleted.stdout) == (0, f"deleted tenant {ids[0]} Analytical Engines\n")
    again = run(tmp_path, "tenants", "delete", ids[0], "--yes", **database)
    assert (again.returncode, again.stdout, again.stderr) == (1, "", f"sump: no tenant {ids[0]}\n")
    assert [line.split("\t")[0] for line in run(tmp_path, "tenants", "list", **database).stdout.splitlines()] == [
        ids[1]
    ]

    with sqlite3.connect(tmp_path / "sump.db") as connection:
        for table, column in (("tenant", "id"), ("tenant_account", "tenant_id"), ("environment", "tenant_id")):
            for tenant_id, rows_left in zip(ids, (0, 1), strict=True):  # the other tenant keeps its own
                held = connection.execute(
                    f"SELECT count(*) FROM {table} WHERE {column} = ?", (uuid.UUID(tenant_id).hex,)
                )
                assert held.fetchone() == (rows_left,), table
        events = connection.execute(
            "SELECT action, actor_type, actor_id FROM audit_event WHERE target_id = ? ORDER BY id",
            (uuid.UUID(ids[0]).hex,),
        ).fetchall()
    assert events == [("tenant.created", "operator", None), ("tenant.deleted", "operator", None)]


def test_a_tenant_name_never_writes_a_line_of_its_own_in_the_listing(tmp_path: Path) -> None:
    """A name stored with control characters (before they were refused, or imported) is one line of the listing
    and of the prompt, its control characters and direction overrides escaped: a forged row would name another
    tenant to a script, an override would show the prompt's tenant under another name."""
    database = {"SUMP_DATABASE_URL": sqlite(tmp_path)}
    assert run(tmp_path, "db", "upgrade", **database).returncode == 0
    made = run(
        tmp_path, "tenants", "create", "--name", "Acme", *OWNER, "--password-stdin", stdin=f"{PASSWORD}\n", **database
    )
    tenant_id = made.stdout.split()[1]
    forged = f"Acme\n{uuid.uuid4()}\t2020-01-01T00:00:00Z\t0\t0\t0\t\x1b[2Jabandoned\u2028\u202eenoG"
    with sqlite3.connect(tmp_path / "sump.db") as connection:
        connection.execute("UPDATE tenant SET name = ? WHERE id = ?", (forged, uuid.UUID(tenant_id).hex))

    listed = run(tmp_path, "tenants", "list", **database)
    assert len(listed.stdout.splitlines()) == 1
    assert (
        listed.stdout.split("\t", 5)[5]
        == forged.replace("\n", "\\x0a")
        .replace("\t", "\\x09")
        .replace("\x1b", "\\x1b")
        .replace("\u2028", "\\u2028")
        .replace("\u202e", "\\u202e")
        + "\n"
    )
    asked = run(tmp_path, "tenants", "delete", tenant_id, stdin="n\n", **database)
    assert "\x1b" not in asked.stderr
    assert "\u202e" not in asked.stderr
    assert asked.stderr.count("\n") == 1, "the prompt, then the refusal's line"


def test_deleting_a_tenant_needs_its_id(tmp_path: Path) -> None:
    database = {"SUMP_DATABASE_URL": sqlite(tmp_path)}
    assert run(tmp_path, "db", "upgrade", **database).returncode == 0
    done = run(tmp_path, "tenants", "delete", "Acme", "--yes", **database)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "sump: TENANT_ID must be a tenant id (a UUID)\n")
