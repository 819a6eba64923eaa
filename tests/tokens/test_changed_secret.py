"""Signing keys are sealed with a key derived from `SUMP_SECRET_KEY`: a server started with another secret cannot
read them, and says so (503 `signing_key_unreadable`) instead of failing with a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
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
