"""Times in query parameters (`since`, `until` of the audit log, `createdAfter`, `createdBefore` of end users), on
SQLite and PostgreSQL: a time without an offset is read as UTC, and a time that leaves the years 1 to 9999 once
in UTC is a 400 naming the parameter, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support import TenantWorld

# Each leaves the range of a datetime once moved to UTC.
OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+14:00"]


def routes(world: TenantWorld, environment_id: str) -> list[tuple[str, str, str]]:
    """(path, parameter of a lower bound, parameter of an upper bound)."""
    return [
        (f"{world.base}/audit-events", "since", "until"),
        (f"/api/v1/environments/{environment_id}/audit-events", "since", "until"),
        (f"/api/v1/environments/{environment_id}/accounts", "createdAfter", "createdBefore"),
    ]


async def ids(client: httpx.AsyncClient, world: TenantWorld, path: str, **params: str) -> list[str]:
    response = await client.get(path, params=params, headers=world.owner.auth)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


@pytest.mark.asvs("VAL-01")
async def test_a_time_without_an_offset_is_read_as_utc(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user()  # an audited signup, and an end user to list
    for path, lower, upper in routes(world, user.environment_id):
        everything = await ids(client, world, path)
        assert everything
        for naive, aware in (
            ("2000-01-01T00:00:00", "2000-01-01T00:00:00Z"),
            ("2999-01-01T00:00:00", "2999-01-01T00:00:00+00:00"),
        ):
            for parameter in (lower, upper):
                assert await ids(client, world, path, **{parameter: naive}) == await ids(
                    client, world, path, **{parameter: aware}
                ), (path, parameter, naive)
        assert await ids(client, world, path, **{lower: "2000-01-01T00:00:00"}) == everything
        assert await ids(client, world, path, **{lower: "2999-01-01T00:00:00"}) == []
        assert await ids(client, world, path, **{upper: "2000-01-01T00:00:00"}) == []
        # The extremes of the range are fine, with or without an offset.
        assert await ids(client, world, path, **{lower: "0001-01-01T00:00:00"}) == everything
        assert await ids(client, world, path, **{upper: "9999-12-31T23:59:59.999999"}) == everything


@pytest.mark.asvs("VAL-01")
@pytest.mark.parametrize("value", OUT_OF_RANGE)
async def test_a_time_out_of_range_is_a_400_naming_the_parameter(
    client: httpx.AsyncClient, world: TenantWorld, value: str
) -> None:
    environment_id = world.environment_id
    for path, lower, upper in routes(world, environment_id):
        for parameter in (lower, upper):
            response = await client.get(path, params={parameter: value}, headers=world.owner.auth)
            assert response.status_code == 400, (path, parameter, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            body = response.json()
            assert body["code"] == "validation_failed"
            assert list(body["errors"]) == [parameter]
            assert "UTC" in body["errors"][parameter]


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(parameter for parameter in operation["parameters"] if parameter["name"] == name)


@pytest.mark.asvs("VAL-10")
async def test_the_api_document_says_how_times_are_read(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    operations = [
        (paths["/api/v1/tenants/{tenantId}/audit-events"]["get"], ("since", "until")),
        (paths["/api/v1/environments/{environmentId}/audit-events"]["get"], ("since", "until")),
        (paths["/api/v1/environments/{environmentId}/accounts"]["get"], ("createdAfter", "createdBefore")),
    ]
    for operation, names in operations:
        for name in names:
            assert "without an offset is read as UTC" in _parameter(operation, name)["description"], name
