"""`sump keys rotate` against the same database the API serves."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import jwt

from tests.support import SECRET, Database, TenantWorld
from tests.tokens.test_tokens import password_grant

SUMP = str(Path(sys.executable).with_name("sump"))


def run_sump(database: Database, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUMP_ENV": "test", "SUMP_SECRET_KEY": SECRET, "SUMP_DATABASE_URL": database.url}
    return subprocess.run(  # noqa: S603
        [SUMP, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_cli_rotates_one_environment(client: httpx.AsyncClient, world: TenantWorld, database: Database) -> None:
    user = await world.add_end_user(world.environment_id)
    before = await password_grant(client, world, user)
    old_kid = jwt.get_unverified_header(before["accessToken"])["kid"]

    done = await asyncio.to_thread(run_sump, database, "keys", "rotate", "--environment", world.environment_id)

    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith(world.environment_id)
    new_kid = line.rsplit(" ", 1)[1]
    after = await password_grant(client, world, user)
    assert jwt.get_unverified_header(after["accessToken"])["kid"] == new_kid != old_kid
    me = f"/api/v1/auth/environments/{world.environment_id}/me"
    assert (await client.get(me, headers={"Authorization": f"Bearer {before['accessToken']}"})).status_code == 200


async def test_cli_refuses_a_bad_environment(database: Database) -> None:
    bad = await asyncio.to_thread(run_sump, database, "keys", "rotate", "--environment", "not-a-uuid")
    assert bad.returncode == 2
    assert "UUID" in bad.stderr
    missing = await asyncio.to_thread(
        run_sump, database, "keys", "rotate", "--environment", "00000000-0000-7000-8000-000000000000"
    )
    assert missing.returncode == 1
