"""`sump import original` on the command line, and the databases it refuses before writing anything."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sump.importer.original import SourceError, TargetError, import_original
from tests.importer.helpers import SERVER_DSN, admin, admin_in, empty_database, login, run_cli, table_row
from tests.importer.original_data import OWNER_PASSWORD, Original
from tests.support import ADMIN_URL, Database


async def test_the_command_imports_and_is_safe_to_run_twice(
    original: Original, database: Database, client: httpx.AsyncClient
) -> None:
    code, out, err = await run_cli(database.url, "import", "original", "--from", original.dsn)
    assert code == 0, err
    assert table_row(out, "tenant") == ["2", "0", "0"]
    assert table_row(out, "environment") == ["4", "0", "1"]
    assert table_row(out, "tenant_account") == ["10", "0", "3"]
    assert table_row(out, "environment_account") == ["3", "0", "4"]
    assert f"tenant_account {original['ann_again']}: duplicate email 'ann@x.com'" in out
    assert "Not imported, by design: sessions and password reset tokens" in out
    assert "Safe to run again" in out

    response = await login(client, "tenants", original["acme"], OWNER_PASSWORD, email="olivia@acme.example.com")
    assert response.status_code == 200, response.text

    code, out, err = await run_cli(database.url, "import", "original", "--from", original.dsn)
    assert code == 0, err
    assert table_row(out, "tenant") == ["0", "2", "0"]
    assert table_row(out, "environment") == ["0", "4", "1"]
    assert table_row(out, "tenant_account") == ["0", "10", "3"]
    assert table_row(out, "environment_account") == ["0", "3", "4"]


async def test_a_source_that_is_not_an_original_sump_is_refused(tmp_path: Path) -> None:
    """Nothing is written, so Sump's database does not matter here: the source is refused first."""
    target = f"sqlite+aiosqlite:///{tmp_path / 'sump.db'}"
    unreachable = "postgresql://postgres@127.0.0.1:1/sump"
    with pytest.raises(SourceError, match=r"cannot reach the original database at 127\.0\.0\.1:1/sump"):
        await import_original(unreachable, target)
    with pytest.raises(SourceError, match="must be given as a PostgreSQL URL"):
        await import_original("mysql://root@127.0.0.1/sump", target)

    name = await empty_database()
    try:
        empty = f"{SERVER_DSN}/{name}"
        with pytest.raises(SourceError, match="does not look like an original Sump database: table tenant, "):
            await import_original(empty, target)
        await admin_in(empty, "CREATE TABLE tenant (id uuid PRIMARY KEY, name text)")
        with pytest.raises(SourceError, match=r"table environment, tenant_account, environment_account missing"):
            await import_original(empty, target)
        for table in ("environment", "tenant_account", "environment_account"):
            await admin_in(empty, f"CREATE TABLE {table} (id uuid PRIMARY KEY, name text)")
        with pytest.raises(SourceError, match=r"column tenant\.custom_properties, tenant\.created_at, "):
            await import_original(empty, target)

        code, out, err = await run_cli(target, "import", "original", "--from", empty)
        assert code == 1
        assert out == ""
        assert "does not look like an original Sump database" in err
        code, _, err = await run_cli(target, "import", "original", "--from", unreachable)
        assert code == 1
        assert "cannot reach the original database at 127.0.0.1:1/sump" in err
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_an_unmigrated_sump_database_is_refused(original: Original, database: Database, tmp_path: Path) -> None:
    if database.backend == "sqlite":
        with pytest.raises(TargetError, match="sump db upgrade"):
            await import_original(original.dsn, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        return
    name = await empty_database()
    try:
        with pytest.raises(TargetError, match="sump db upgrade"):
            await import_original(original.dsn, ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
