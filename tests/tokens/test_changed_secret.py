"""Signing keys are sealed with a key derived from `SUMP_SECRET_KEY`: `sump serve` with another secret refuses to
start, naming the cause; an application that runs anyway cannot read them, and says so (503
`signing_key_unreadable`) instead of failing with a 500."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from sump.tokens.rotation import secret_opens_keys
from tests.servers import SUMP, free_port
from tests.support import SECRET, Database, TenantWorld, make_settings
from tests.tokens.test_tokens import password_grant

OTHER_SECRET = "another-secret-" + "y" * 40


@pytest.fixture
async def other_secret_app(database: Database) -> AsyncIterator[FastAPI]:
    assert OTHER_SECRET != SECRET
    application = create_app(make_settings(database, secret_key=OTHER_SECRET))
    yield application
    await application.state.engine.dispose()
    application.state.hasher.close()


async def test_a_changed_secret_answers_503_naming_the_cause(
    client: httpx.AsyncClient, world: TenantWorld, other_secret_app: FastAPI
) -> None:
    user = await world.add_end_user(world.environment_id)
    await password_grant(client, world, user)  # the environment's signing key now exists, sealed with SECRET

    transport = httpx.ASGITransport(app=other_secret_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as other:
        answer = await other.post(
            f"/api/v1/auth/environments/{world.environment_id}/token",
            json={"grantType": "password", "email": user.email, "password": user.password},
        )

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == "signing_key_unreadable"
    assert body["detail"] == (
        "The environment's signing key cannot be decrypted: SUMP_SECRET_KEY is not the secret it was sealed with."
    )
    again = await password_grant(client, world, user)  # the server with the right secret still signs
    assert again["accessToken"]


async def test_sump_serve_with_another_secret_refuses_to_start(
    client: httpx.AsyncClient, world: TenantWorld, database: Database
) -> None:
    user = await world.add_end_user(world.environment_id)
    await password_grant(client, world, user)  # the environment's signing key now exists, sealed with SECRET
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment.update(SUMP_ENV="test", SUMP_DATABASE_URL=database.url, SUMP_SECRET_KEY=OTHER_SECRET)

    command = [str(SUMP), "serve", "--port", str(free_port())]
    served = await asyncio.to_thread(
        subprocess.run, command, env=environment, capture_output=True, text=True, timeout=60, check=False
    )

    assert served.returncode == 2, served.stderr
    assert served.stderr.splitlines()[-1] == (
        "sump: SUMP_SECRET_KEY is not the secret that sealed the signing keys in this database; "
        "serve it with that secret"
    )
    assert await secret_opens_keys(make_settings(database)), "the secret that sealed them opens them"
