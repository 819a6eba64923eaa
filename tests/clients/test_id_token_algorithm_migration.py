"""Migration 0019 names the ID tokens' algorithm of the applications registered before it: ES256, which their
relying parties have been verifying; machine clients get none. Going down keeps every client and its secret."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, LargeBinary, String, Uuid, inspect, select

from sump.db import migrate
from sump.db.base import UTCDateTime, utcnow, uuid7
from sump.db.engine import make_engine
from tests.environment_accounts.test_metadata_migration import _table, seed_end_user
from tests.support import Database

BEFORE = "0018"
CLIENT = _table(
    "client",
    id=Uuid(),
    client_id=String(),
    tenant_id=Uuid(),
    environment_id=Uuid(),
    purpose=String(),
    kind=String(),
    name=String(),
    redirect_uris=JSON(),
    post_logout_redirect_uris=JSON(),
    grant_types=JSON(),
    scopes=JSON(),
    first_party=Boolean(),
    audience=String(),
    permissions=JSON(),
    created_at=UTCDateTime(),
    updated_at=UTCDateTime(),
)
SECRET = _table("client_secret", id=Uuid(), client_pk=Uuid(), secret_hash=LargeBinary(), created_at=UTCDateTime())


def seed_clients(url: str) -> None:
    """An application and a machine client of the seeded environment, each with a secret, as 0018 knew them."""

    async def run() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                environment = _table("environment", id=Uuid(), tenant_id=Uuid())
                tenant_id, environment_id = (
                    await connection.execute(select(environment.c.tenant_id, environment.c.id))
                ).one()
                for purpose in ("application", "machine"):
                    pk, now = uuid7(), utcnow()
                    await connection.execute(
                        CLIENT.insert().values(
                            id=pk,
                            client_id=f"sump_{uuid.uuid4().hex}",
                            tenant_id=tenant_id,
                            environment_id=environment_id,
                            purpose=purpose,
                            kind="confidential",
                            name=purpose,
                            redirect_uris=["https://app.example.com/callback"] if purpose == "application" else [],
                            post_logout_redirect_uris=[],
                            grant_types=["authorization_code"] if purpose == "application" else ["client_credentials"],
                            scopes=["openid"] if purpose == "application" else [],
                            first_party=True,
                            audience=None if purpose == "application" else "https://api.example.com",
                            permissions=[],
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    await connection.execute(
                        SECRET.insert().values(
                            id=uuid7(), client_pk=pk, secret_hash=uuid.uuid4().bytes * 2, created_at=now
                        )
                    )
        finally:
            await engine.dispose()

    asyncio.run(run())


def clients(url: str) -> dict[str, Any]:
    """Each client's algorithm by purpose (or True where the column does not exist), and the secrets' count."""

    async def run() -> dict[str, Any]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                columns = await connection.run_sync(
                    lambda sync: {c["name"] for c in inspect(sync).get_columns("client")}
                )
                named = "id_token_signed_response_alg" in columns
                table = _table(
                    "client", purpose=String(), **({"id_token_signed_response_alg": String()} if named else {})
                )
                rows = (await connection.execute(select(table))).all()
                found: dict[str, Any] = {
                    row.purpose: row.id_token_signed_response_alg if named else True for row in rows
                }
                found["secrets"] = len((await connection.execute(select(SECRET.c.id))).all())
                return found
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.asvs("REL-07")
def test_0019_names_es256_for_applications_registered_before_and_goes_down_again(empty_database: Database) -> None:
    url = empty_database.url
    migrate.upgrade(url, "0005")
    seed_end_user(url)
    migrate.upgrade(url, BEFORE)
    seed_clients(url)

    migrate.upgrade(url, "0019")
    assert clients(url) == {"application": "ES256", "machine": None, "secrets": 2}
    migrate.downgrade(url, BEFORE)
    assert clients(url) == {"application": True, "machine": True, "secrets": 2}
    migrate.upgrade(url)
    assert clients(url) == {"application": "ES256", "machine": None, "secrets": 2}
