"""The audit log: what is recorded, with which context, and who may read it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.organizations.test_organizations import create_org, scene
from tests.support import PASSWORD, TenantWorld, new_tenant


async def events(client: httpx.AsyncClient, world: TenantWorld, **params: str) -> list[dict[str, Any]]:
    response = await client.get(f"{world.base}/audit-events", params=params, headers=world.owner.auth)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


@pytest.mark.asvs("LOG-04")
async def test_tenant_creation_and_sign_ins_are_recorded_with_context(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    login = f"/api/v1/auth/tenants/{world.tenant_id}/login"
    failed = await client.post(
        login,
        json={"username": world.owner.username, "password": "not the password"},
        headers={"X-Request-Id": "req-fail-1"},
    )
    assert failed.status_code == 401
    await client.post(login, json={"email": world.owner.email, "password": PASSWORD})

    created = await events(client, world, action="tenant.created")
    assert [event["actorId"] for event in created] == [world.owner.account_id]
    [failure] = await events(client, world, action="login.failed")
    assert failure["outcome"] == "failure"
    assert failure["requestId"] == "req-fail-1"
    assert failure["ipAddress"] == "203.0.113.7"
    assert failure["details"]["code"] == "invalid_credentials"
    assert "not the password" not in str(failure)
    [success] = await events(client, world, action="login.succeeded")
    assert success["targetId"] == world.owner.account_id


@pytest.mark.asvs("LOG-03")
async def test_a_failed_sign_in_keeps_no_trace_of_an_identifier_that_names_no_account(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """A password typed into the username field names no account: the audit log keeps only the kind of
    identifier, neither its text nor a digest that whoever reads the log could test guesses against. An
    identifier that names an account is kept as typed, beside the account."""
    typed = "Tr0ub4dor-and-3"  # a password, sent as a username
    login = f"/api/v1/auth/tenants/{world.tenant_id}/login"
    for username in (typed, world.owner.username):
        answer = await client.post(login, json={"username": username, "password": "not the password"})
        assert (answer.status_code, answer.json()["code"]) == (401, "invalid_credentials")

    known, unknown = await events(client, world, action="login.failed")  # newest first
    assert unknown["details"] == {"code": "invalid_credentials", "channel": "api", "identifier_kind": "username"}
    assert unknown["targetId"] is None
    assert typed.lower() not in str(unknown).lower()
    assert known["details"]["identifier"] == world.owner.username
    assert known["targetId"] == world.owner.account_id


async def test_account_changes_are_recorded(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    await client.patch(
        f"{world.base}/accounts/{user.account_id}/role", json={"role": "admin"}, headers=world.owner.auth
    )
    await client.patch(f"{world.base}/accounts/{user.account_id}/disable", headers=world.owner.auth)
    await client.delete(f"{world.base}/accounts/{user.account_id}", headers=world.owner.auth)
    actions = [event["action"] for event in await events(client, world, targetId=user.account_id)]
    assert actions[:4] == [
        "tenant_account.deleted",
        "tenant_account.disabled",
        "tenant_account.role_changed",
        "login.succeeded",
    ], "newest first, and they outlive the account"
    [change] = await events(client, world, action="tenant_account.role_changed")
    assert change["details"] == {"previous": "user", "role": "admin"}


async def test_pages_and_filters(client: httpx.AsyncClient, world: TenantWorld) -> None:
    for i in range(3):
        await client.post(f"{world.base}/environments", json={"name": f"audit-{i}"}, headers=world.owner.auth)
    seen: list[str] = []
    url: str | None = f"{world.base}/audit-events?limit=2&action=environment.created"
    while url:
        page = await client.get(url, headers=world.owner.auth)
        seen += [event["id"] for event in page.json()]
        url = page.links.get("next", {}).get("url")
    assert len(seen) == 3
    assert seen == sorted(seen, reverse=True)


async def test_environment_log_holds_end_user_events(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    await client.post(f"{user.auth_base}/logout-all", headers=user.auth)
    response = await client.get(f"/api/v1/environments/{world.environment_id}/audit-events", headers=world.owner.auth)
    actions = [event["action"] for event in response.json()]
    assert actions[:2] == ["logout_all", "signup"]
    assert all(event["environmentId"] == world.environment_id for event in response.json())


async def test_only_owners_and_admins_read_the_log(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    admin = await world.add_member("admin")
    other = await new_tenant(client)
    assert (await client.get(f"{world.base}/audit-events", headers=user.auth)).status_code == 403
    assert (await client.get(f"{world.base}/audit-events", headers=admin.auth)).status_code == 200
    assert (await client.get(f"{world.base}/audit-events", headers=other.owner.auth)).status_code == 404
    assert (await client.get(f"{world.base}/audit-events")).status_code == 401
    environment_log = f"/api/v1/environments/{world.environment_id}/audit-events"
    assert (await client.get(environment_log, headers=other.owner.auth)).status_code == 404
    assert (await client.get(environment_log, headers=user.auth)).status_code == 403


async def test_end_users_read_their_organizations_events_with_audit_read(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    place = await scene(client, world)
    other_org = await create_org(client, place.outsider)
    log = f"/api/v1/environments/{world.environment_id}/audit-events"
    own = await client.get(log, params={"organizationId": place.organization_id}, headers=place.admin.auth)
    assert own.status_code == 200
    actions = {event["action"] for event in own.json()}
    assert {"organization.created", "membership.added"} <= actions
    assert {event["organizationId"] for event in own.json()} == {place.organization_id}
    without_permission = await client.get(
        log, params={"organizationId": place.organization_id}, headers=place.user.auth
    )
    assert without_permission.status_code == 403
    assert (await client.get(log, headers=place.admin.auth)).status_code == 400
    foreign = await client.get(log, params={"organizationId": other_org}, headers=place.admin.auth)
    assert foreign.status_code == 404


@pytest.mark.parametrize("by", ["owner", "themself"])
async def test_a_deleted_members_memberships_end_in_their_organizations_log(
    client: httpx.AsyncClient, world: TenantWorld, by: str
) -> None:
    """An end user's deletion takes their memberships with it: each of their organizations' readers sees the
    membership end (`membership.removed`, reason `account_deleted`), even the last ORG_ADMIN's, whose
    organization is then governed by the tenant's owners and admins."""
    place = await scene(client, world)
    second = await create_org(client, place.user)
    url = f"/api/v1/environments/{world.environment_id}/accounts/{place.user.account_id}"
    headers = world.owner.auth if by == "owner" else place.user.auth
    assert (await client.delete(url, headers=headers)).status_code == 204

    log = f"/api/v1/environments/{world.environment_id}/audit-events"
    for organization_id in (place.organization_id, second):
        read = await client.get(log, params={"organizationId": organization_id}, headers=world.owner.auth)
        ended = [event for event in read.json() if event["action"] == "membership.removed"]
        assert len(ended) == 1, read.json()
        assert ended[0]["targetId"] == place.user.account_id
        assert ended[0]["details"] == {"reason": "account_deleted"}
        assert ended[0]["organizationId"] == organization_id
    members = f"/api/v1/environments/{world.environment_id}/organizations/{second}/members"
    assert (await client.get(members, headers=world.owner.auth)).json() == []


async def test_end_users_see_no_network_details_of_the_tenants_staff(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """An organization's reader sees where its members acted from, never where the tenant's own staff did: their
    addresses and user agents stay with the tenant's owners and admins."""
    place = await scene(client, world)
    url = f"/api/v1/environments/{world.environment_id}/organizations/{place.organization_id}"
    renamed = await client.patch(url, json={"name": "Renamed by staff"}, headers=world.owner.auth)
    assert renamed.status_code == 204
    log = f"/api/v1/environments/{world.environment_id}/audit-events"
    params = {"organizationId": place.organization_id}
    read = await client.get(log, params=params, headers=place.admin.auth)
    assert read.status_code == 200
    staff = [event for event in read.json() if event["actorType"] == "tenant_account"]
    member = next(event for event in read.json() if event["actorType"] == "environment_account")
    assert {event["action"] for event in staff} == {"organization.renamed", "membership.added"}
    assert {(event["ipAddress"], event["userAgent"]) for event in staff} == {(None, None)}
    assert (member["ipAddress"], member["userAgent"]) == ("203.0.113.7", "python-httpx/" + httpx.__version__)
    as_staff = await client.get(log, params=params, headers=world.owner.auth)
    renames = [event for event in as_staff.json() if event["action"] == "organization.renamed"]
    assert [(event["ipAddress"], event["userAgent"]) for event in renames] == [
        ("203.0.113.7", "python-httpx/" + httpx.__version__)
    ]


async def test_a_tenants_log_holds_only_its_own_events_whatever_the_filters(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    """Each tenant reads its own events only: another tenant's, even named by their actor or environment, are
    not there, on the tenant's log and on its environments' logs."""
    await client.post(f"{other.base}/environments", json={"name": "elsewhere"}, headers=other.owner.auth)
    await other.add_end_user(other.environment_id)
    await world.add_end_user(world.environment_id)
    mine = await events(client, world)
    assert mine
    assert {event["tenantId"] for event in mine} == {world.tenant_id}
    assert await events(client, world, actorId=other.owner.account_id) == []
    assert await events(client, world, environmentId=other.environment_id) == []
    assert await events(client, world, action="environment.created") == []
    environment_log = await client.get(
        f"/api/v1/environments/{world.environment_id}/audit-events", headers=world.owner.auth
    )
    assert environment_log.status_code == 200, environment_log.text
    assert environment_log.json()
    assert {event["tenantId"] for event in environment_log.json()} == {world.tenant_id}
    refused = await client.get(f"{world.base}/audit-events", headers=other.owner.auth)
    assert refused.status_code == 404, refused.text
    assert refused.json()["code"] == "tenant_not_found"


async def test_a_custom_property_change_is_recorded_by_its_keys_not_its_values(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    changes = {"billing": {"card": "SENTINEL-4111"}, "plan": "SENTINEL-gold"}
    changed = await client.patch(f"{world.base}/custom-property", json=changes, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    deleted = await client.request(
        "DELETE", f"{world.base}/custom-property", json={"customProperty": "plan"}, headers=world.owner.auth
    )
    assert deleted.status_code == 204, deleted.text
    [recorded] = await events(client, world, action="tenant.custom_properties_set")
    assert recorded["details"] == {"keys": ["billing", "plan"]}
    [removed] = await events(client, world, action="tenant.custom_property_deleted")
    assert removed["details"] == {"key": "plan"}
    assert "SENTINEL" not in str(await events(client, world))


async def test_an_organizations_events_are_read_through_an_index_of_their_own(db: AsyncSession) -> None:
    """Any end user who creates an organization administers it and may read its events, as often as they like:
    that read must find the organization's events by an index, not walk the whole environment's log."""

    def indexes(connection: Connection) -> list[list[str | None]]:
        return [index["column_names"] for index in inspect(connection).get_indexes("audit_event")]

    assert ["organization_id", "id"] in await (await db.connection()).run_sync(indexes)


async def test_a_change_of_settings_names_what_moved_from_what_to_what(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """Loosening a security setting (second factors, sign-up, the password policy) is told apart from a rename:
    the event holds each setting that moved, with its value before and after, and nothing that did not move."""
    tenant = await client.patch(world.base, json={"settings": {"factorPolicy": "required"}}, headers=world.owner.auth)
    assert tenant.status_code == 204, tenant.text
    url = f"{world.base}/environments/{world.environment_id}"
    settings = {"signupEnabled": False, "passwordMinLength": 12, "magicLinksEnabled": False}
    environment = await client.patch(url, json={"name": "renamed", "settings": settings}, headers=world.owner.auth)
    assert environment.status_code == 204, environment.text

    found = {event["action"]: event for event in await events(client, world)}
    assert found["tenant.updated"]["details"] == {"changed": {"factorPolicy": {"from": "optional", "to": "required"}}}
    changed = found["environment.updated"]["details"]["changed"]
    assert changed["passwordMinLength"] == {"from": 8, "to": 12}
    assert changed["signupEnabled"] == {"from": True, "to": False}
    assert changed["name"]["to"] == "renamed"
    assert "magicLinksEnabled" not in changed, "it was off already"
