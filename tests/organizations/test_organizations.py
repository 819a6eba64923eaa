"""Organizations of end users: created, listed, renamed and deleted by the right people, and invisible to
anyone else (other environments, other tenants, non-members)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.organizations.support import add_member, member_roles, orgs_url
from tests.organizations.support import create_org as create_org  # the audit tests import these two from here
from tests.organizations.support import scene as scene
from tests.support import TenantWorld

# --- organizations ------------------------------------------------------------------------------------------


async def test_end_user_creates_an_organization_and_becomes_its_admin(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    organization_id = await create_org(client, user, "Acme")
    read = await client.get(orgs_url(world.environment_id, organization_id), headers=user.auth)
    assert read.status_code == 200
    assert read.json() | {"createdAt": None, "updatedAt": None} == {
        "id": organization_id,
        "tenantId": world.tenant_id,
        "environmentId": world.environment_id,
        "name": "Acme",
        "role": "ORG_ADMIN",
        "createdAt": None,
        "updatedAt": None,
    }
    assert await member_roles(client, user, organization_id) == {user.account_id: "ORG_ADMIN"}
    by_owner = await client.get(orgs_url(world.environment_id, organization_id), headers=world.owner.auth)
    assert by_owner.status_code == 200
    assert by_owner.json()["role"] is None


async def test_names_are_unique_per_environment(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    first = await create_org(client, user, "Same Name")
    duplicate = await client.post(orgs_url(world.environment_id), json={"name": "Same Name"}, headers=user.auth)
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "organization_name_taken"
    second = await create_org(client, user, "Other Name")
    rename = await client.patch(orgs_url(world.environment_id, second), json={"name": "Same Name"}, headers=user.auth)
    assert rename.status_code == 409
    same = await client.patch(orgs_url(world.environment_id, first), json={"name": "Same Name"}, headers=user.auth)
    assert same.status_code == 204, "renaming to its own name is no conflict"
    # Names that differ only in case or width are one name to the members who read them (one would pass for
    # the other): `fold`, as identifiers are compared.
    for look_alike in ("same name", "\uff33\uff21\uff2d\uff25 \uff2e\uff21\uff2d\uff25"):  # full-width
        taken = await client.post(orgs_url(world.environment_id), json={"name": look_alike}, headers=user.auth)
        assert (taken.status_code, taken.json()["code"]) == (409, "organization_name_taken")
    recased = await client.patch(orgs_url(world.environment_id, first), json={"name": "SAME name"}, headers=user.auth)
    assert recased.status_code == 204, "an organization takes another case of its own name"

    environment = await client.post(f"{world.base}/environments", json={"name": "other"}, headers=world.owner.auth)
    elsewhere = await world.add_end_user(environment.json()["id"])
    await create_org(client, elsewhere, "Same Name")

    unknown = await client.post(
        orgs_url(world.environment_id), json={"name": "X Corp", "extra": True}, headers=user.auth
    )
    assert unknown.status_code == 400, "request models forbid unknown fields"


async def test_list_shows_own_organizations_and_all_to_tenant_accounts(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    alice, bob = await world.add_end_user(world.environment_id), await world.add_end_user(world.environment_id)
    mine = [await create_org(client, alice) for _ in range(3)]
    theirs = await create_org(client, bob)
    await add_member(client, world.owner, theirs, alice, "READ_ONLY")

    seen: list[tuple[str, str]] = []
    url: str | None = f"{orgs_url(world.environment_id)}?limit=2"
    while url:
        page = await client.get(url, headers=alice.auth)
        assert page.status_code == 200
        assert len(page.json()) <= 2
        seen += [(organization["id"], organization["role"]) for organization in page.json()]
        url = page.links.get("next", {}).get("url")
    assert seen == [*((org, "ORG_ADMIN") for org in mine), (theirs, "READ_ONLY")]

    bobs = await client.get(orgs_url(world.environment_id), headers=bob.auth)
    assert [organization["id"] for organization in bobs.json()] == [theirs]

    tenant_user = await world.add_member("user")
    for account in (world.owner, tenant_user):
        everything = await client.get(orgs_url(world.environment_id), headers=account.auth)
        assert everything.status_code == 200
        assert [organization["id"] for organization in everything.json()] == [*mine, theirs]
        assert {organization["role"] for organization in everything.json()} == {None}
    bad_cursor = await client.get(orgs_url(world.environment_id), params={"cursor": "!"}, headers=alice.auth)
    assert bad_cursor.status_code == 400


@pytest.mark.asvs("AC-03")
async def test_rename_and_delete_need_org_admin_or_a_tenant_admin(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    s = await scene(client, world)
    url = orgs_url(world.environment_id, s.organization_id)
    for member in (s.user, s.viewer):
        rename = await client.patch(url, json={"name": "Nope"}, headers=member.auth)
        assert rename.status_code == 403
        assert rename.json()["code"] == "insufficient_org_role"
        assert (await client.delete(url, headers=member.auth)).status_code == 403
    tenant_user = await world.add_member("user")
    assert (await client.patch(url, json={"name": "Nope"}, headers=tenant_user.auth)).status_code == 403
    assert (await client.delete(url, headers=tenant_user.auth)).status_code == 403
    assert (await client.get(url, headers=tenant_user.auth)).status_code == 200, "tenant accounts read"

    assert (await client.patch(url, json={"name": "Renamed By Admin"}, headers=s.admin.auth)).status_code == 204
    assert (await client.get(url, headers=s.user.auth)).json()["name"] == "Renamed By Admin"
    tenant_admin = await world.add_member("admin")
    assert (await client.patch(url, json={"name": "Renamed By Tenant"}, headers=tenant_admin.auth)).status_code == 204
    assert (await client.get(url, headers=s.viewer.auth)).json()["name"] == "Renamed By Tenant"

    assert (await client.delete(url, headers=s.admin.auth)).status_code == 204
    assert (await client.get(url, headers=s.admin.auth)).status_code == 404
    assert (await client.get(url, headers=world.owner.auth)).status_code == 404
    other = await create_org(client, s.user)
    assert (await client.delete(orgs_url(world.environment_id, other), headers=world.owner.auth)).status_code == 204


@pytest.mark.asvs("AC-03")
async def test_tenant_admins_create_organizations_naming_the_first_admin(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    url = orgs_url(world.environment_id)
    missing = await client.post(url, json={"name": "Staff Made"}, headers=world.owner.auth)
    assert missing.status_code == 400
    assert missing.json()["code"] == "admin_account_required"
    created = await client.post(
        url, json={"name": "Staff Made", "adminAccountId": user.account_id}, headers=world.owner.auth
    )
    assert created.status_code == 201
    organization_id = created.json()["id"]
    assert (await client.get(orgs_url(world.environment_id, organization_id), headers=user.auth)).json()[
        "role"
    ] == "ORG_ADMIN"

    tenant_user = await world.add_member("user")
    denied = await client.post(
        url, json={"name": "Not Allowed", "adminAccountId": user.account_id}, headers=tenant_user.auth
    )
    assert denied.status_code == 403
    someone = await world.add_end_user(world.environment_id)
    for_someone = await client.post(
        url, json={"name": "For Someone", "adminAccountId": someone.account_id}, headers=user.auth
    )
    assert for_someone.status_code == 400
    assert for_someone.json()["code"] == "admin_account_not_allowed"
    unknown = await client.post(
        url, json={"name": "Ghost Admin", "adminAccountId": str(uuid.uuid4())}, headers=world.owner.auth
    )
    assert unknown.status_code == 404


# --- isolation ----------------------------------------------------------------------------------------------


@pytest.mark.asvs("AC-02")
async def test_other_environments_tenants_and_non_members_get_404(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    s = await scene(client, world)
    environment = await client.post(f"{world.base}/environments", json={"name": "second"}, headers=world.owner.auth)
    second_environment = environment.json()["id"]
    stranger = await world.add_end_user(second_environment)
    own = await create_org(client, stranger)

    wrong_environment = await client.get(orgs_url(second_environment, s.organization_id), headers=stranger.auth)
    assert wrong_environment.status_code == 404
    assert wrong_environment.json()["code"] == "organization_not_found"
    by_owner = await client.get(orgs_url(second_environment, s.organization_id), headers=world.owner.auth)
    assert by_owner.status_code == 404, "an organization id of another environment"
    foreign_member = await client.post(
        orgs_url(world.environment_id, s.organization_id, "members"),
        json={"accountId": stranger.account_id},
        headers=world.owner.auth,
    )
    assert foreign_member.status_code == 404
    assert foreign_member.json()["code"] == "account_not_found"
    foreign_admin = await client.post(
        orgs_url(world.environment_id),
        json={"name": "Cross Env", "adminAccountId": stranger.account_id},
        headers=world.owner.auth,
    )
    assert foreign_admin.status_code == 404
    session_elsewhere = await client.get(orgs_url(world.environment_id, s.organization_id), headers=stranger.auth)
    assert session_elsewhere.status_code == 401, "an end user's session counts only in its environment"
    not_mine = await client.get(orgs_url(second_environment, own), headers=s.admin.auth)
    assert not_mine.status_code == 401

    org_url = orgs_url(world.environment_id, s.organization_id)
    for method, url, body in (
        ("GET", org_url, None),
        ("PATCH", org_url, {"name": "Taken Over"}),
        ("DELETE", org_url, None),
        ("GET", f"{org_url}/members", None),
        ("POST", f"{org_url}/members", {"accountId": s.outsider.account_id}),
        ("PATCH", f"{org_url}/members/{s.user.account_id}", {"role": "READ_ONLY"}),
        ("DELETE", f"{org_url}/members/{s.user.account_id}", None),
    ):
        answer = await client.request(method, url, json=body, headers=s.outsider.auth)
        assert answer.status_code == 404, (method, url)
        assert answer.json()["code"] == "organization_not_found"
        assert (await client.request(method, url, json=body, headers=other.owner.auth)).status_code == 404
    assert (await client.get(orgs_url(world.environment_id), headers=other.owner.auth)).status_code == 404
    unknown = await client.get(orgs_url(world.environment_id, str(uuid.uuid4())), headers=world.owner.auth)
    assert unknown.status_code == 404
    assert (await client.get(orgs_url(world.environment_id, "not-a-uuid"), headers=s.admin.auth)).status_code == 400
    assert (await client.get(orgs_url(world.environment_id))).status_code == 401
    assert await member_roles(client, s.admin, s.organization_id) == {
        s.admin.account_id: "ORG_ADMIN",
        s.user.account_id: "ORG_USER",
        s.viewer.account_id: "READ_ONLY",
    }
