"""What schemathesis' data checks found where the OpenAPI document and validation disagreed, as plain examples:
each failed before its fix."""

from __future__ import annotations

import httpx
import pytest

from tests.support import TenantWorld

pytestmark = pytest.mark.asvs("VAL-01")


async def test_a_number_is_not_a_created_before_time(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """`createdBefore` is documented as a date-time; `0.5` is read as a Unix time and accepted."""
    url = f"/api/v1/environments/{world.environment_id}/accounts?createdBefore=0.5"
    response = await client.get(url, headers=world.owner.auth)
    assert response.status_code == 400, response.text


async def test_a_number_is_not_a_signup_switch(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """`settings.signupEnabled` is documented as a boolean; `0` is accepted as false."""
    body = {"name": "staging", "settings": {"signupEnabled": 0}}
    response = await client.post(f"{world.base}/environments", json=body, headers=world.owner.auth)
    assert response.status_code == 400, response.text


async def test_identification_documents_the_usernames_it_takes(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """The query's `username` is documented as what it takes: at most 20 characters typed."""
    document = (await client.get("/openapi.json")).json()
    parameters = document["paths"]["/api/v1/tenants/{tenantId}/accounts/user-defined-identification"]["get"]
    [username] = [parameter for parameter in parameters["parameters"] if parameter["name"] == "username"]
    assert username["schema"]["anyOf"][0]["maxLength"] == 20
    url = f"{world.base}/accounts/user-defined-identification?username="
    assert (await client.get(url + "0" * 21, headers=world.owner.auth)).status_code == 400
    assert (await client.get(url + "0" * 20, headers=world.owner.auth)).status_code in {200, 404}


async def test_a_tenant_name_is_documented_as_never_null(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """`PATCH /tenants/{id}` refuses `{"name": null}`, so the document must not offer null."""
    document = (await client.get("/openapi.json")).json()
    assert document["components"]["schemas"]["TenantUpdate"]["properties"]["name"].get("type") == "string"
    response = await client.patch(world.base, json={"name": None}, headers=world.owner.auth)
    assert response.status_code == 400, response.text
