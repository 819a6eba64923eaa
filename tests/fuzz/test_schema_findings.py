"""What schemathesis' data checks found where the OpenAPI document and validation disagree, as plain examples.

Each test fails until its fix lands (the fixes are in files of other areas); `strict=True` makes a fixed one fail
as XPASS so that its mark is removed with the fix.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support import TenantWorld

pytestmark = pytest.mark.asvs("VAL-01")
PENDING = "documented and validated differently; fix pending in the owning area"


@pytest.mark.xfail(strict=True, reason=PENDING)
async def test_a_number_is_not_a_created_before_time(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """`createdBefore` is documented as a date-time; `0.5` is read as a Unix time and accepted."""
    url = f"/api/v1/environments/{world.environment_id}/accounts?createdBefore=0.5"
    response = await client.get(url, headers=world.owner.auth)
    assert response.status_code == 400, response.text


@pytest.mark.xfail(strict=True, reason=PENDING)
async def test_a_number_is_not_a_signup_switch(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """`settings.signupEnabled` is documented as a boolean; `0` is accepted as false."""
    body = {"name": "staging", "settings": {"signupEnabled": 0}}
    response = await client.post(f"{world.base}/environments", json=body, headers=world.owner.auth)
    assert response.status_code == 400, response.text


@pytest.mark.xfail(strict=True, reason=PENDING)
async def test_identification_takes_the_usernames_it_documents(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """The query's `username` is documented up to 64 characters; more than 20 answers 400."""
    url = f"{world.base}/accounts/user-defined-identification?username={'0' * 64}"
    response = await client.get(url, headers=world.owner.auth)
    assert response.status_code != 400, response.text


@pytest.mark.xfail(strict=True, reason=PENDING)
async def test_a_tenant_name_documented_as_nullable_is_taken(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """`PATCH /tenants/{id}` documents `name` as string or null; `{"name": null}` answers 400."""
    response = await client.patch(world.base, json={"name": None}, headers=world.owner.auth)
    assert response.status_code != 400, response.text
