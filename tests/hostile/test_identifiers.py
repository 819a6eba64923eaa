"""Identifiers that grow under normalisation, on SQLite and PostgreSQL: eleven `㌖` are 11 characters as typed and
66 once NFKC-normalised (`キロメートル` each), more than a stored username may hold. Every way in answers 400
naming the field, and nothing is stored."""

from __future__ import annotations

import unicodedata
import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.tenant_accounts import TenantAccount
from sump.kit.identifiers import MAX_EMAIL, MAX_USERNAME, normalize_email, normalize_username
from tests.support import PASSWORD, TenantWorld, tenant_body

GROWING = "\u3316" * 11  # eleven ㌖


def assert_username_refused(response: httpx.Response, field: str = "username") -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "validation_failed"
    assert field in body["errors"], body
    assert str(MAX_USERNAME) in body["errors"][field]


def person(**fields: object) -> dict[str, object]:
    tag = uuid.uuid4().hex[:8]
    return {"name": f"Jane {tag}", "email": f"jane-{tag}@example.com", "password": PASSWORD, **fields}


async def stored_usernames(db: AsyncSession) -> int:
    counts = [
        await db.scalar(select(func.count()).select_from(table).where(func.length(table.username) > MAX_USERNAME))
        for table in (EnvironmentAccount, TenantAccount)
    ]
    return sum(count or 0 for count in counts)


def test_the_example_grows_past_the_limit() -> None:
    assert len(GROWING) <= 20 < MAX_USERNAME < len(unicodedata.normalize("NFKC", GROWING))


@pytest.mark.asvs("VAL-01", "VAL-02")
async def test_anonymous_signup_with_a_growing_username_is_a_400(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    response = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/signup", json=person(username=GROWING)
    )
    assert_username_refused(response)
    assert await stored_usernames(db) == 0


@pytest.mark.asvs("VAL-01", "VAL-02")
async def test_tenant_creation_with_a_growing_username_is_a_400(client: httpx.AsyncClient, db: AsyncSession) -> None:
    body = tenant_body()
    body["account"]["username"] = GROWING
    assert_username_refused(await client.post("/api/v1/tenants", json=body), "account.username")
    assert await stored_usernames(db) == 0


@pytest.mark.asvs("VAL-01", "VAL-02")
async def test_accounts_made_or_changed_by_admins_refuse_a_growing_username(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    created = await client.post(
        f"/api/v1/environments/{world.environment_id}/accounts", json=person(username=GROWING), headers=world.owner.auth
    )
    assert_username_refused(created)
    member = person(username=GROWING, roles=[{"role": "user", "target": "tenant", "targetId": world.tenant_id}])
    assert_username_refused(await client.post(f"{world.base}/accounts", json=member, headers=world.owner.auth))
    user = await world.add_end_user(world.environment_id)
    changed = await client.patch(
        f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}/username",
        json={"username": GROWING},
        headers=world.owner.auth,
    )
    assert_username_refused(changed)
    assert await stored_usernames(db) == 0
    # The end user keeps the username they had.
    signed_in = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.asvs("VAL-02")
@given(st.text(max_size=20))
def test_a_normalised_username_is_never_longer_than_a_stored_one(value: str) -> None:
    try:
        normalised = normalize_username(value)
    except ValueError:
        return
    assert len(normalised) <= MAX_USERNAME


@pytest.mark.asvs("VAL-02")
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), st.sampled_from(["example.com", "b" * 63 + ".io"]))
def test_a_normalised_email_is_never_longer_than_a_stored_one(local: str, domain: str) -> None:
    try:
        normalised = normalize_email(f"{local}@{domain}")
    except ValueError:
        return
    assert len(normalised) <= MAX_EMAIL
