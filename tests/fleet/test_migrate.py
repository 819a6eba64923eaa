"""`sump db upgrade` started twice at once on a fresh PostgreSQL database: one migrates, the other waits for it
(an advisory lock) and finds nothing left to do; both exit 0."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sump.db import migrate
from tests.fleet.fleet import fresh_database, run_admin
from tests.servers import SUMP

pytestmark = pytest.mark.fleet
DEADLINE_SECONDS = 120


@pytest.fixture
def empty_database() -> Iterator[str]:
    url, name = fresh_database()
    yield url
    run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_upgrades_at_once_migrate_once_and_both_succeed(empty_database: str, tmp_path: Path) -> None:
    environment = {"PATH": "/usr/bin:/bin", "SUMP_DATABASE_URL": empty_database}
    runs = [
        subprocess.Popen(  # noqa: S603
            [str(SUMP), "db", "upgrade"], cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=DEADLINE_SECONDS) for run in runs]
    head = migrate.revisions()[-1]
    for run, (stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr.decode()
        assert stdout.decode().strip() == f"database at {head} (head)"
    assert migrate.current(empty_database) == f"{head} (head)"
