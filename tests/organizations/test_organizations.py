"""Organizations of end users: members and their roles, the last ORG_ADMIN, the environment's roles and
permission catalog, and what access tokens say about the active organization."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.organizations.models import Membership
from sump.tokens.models import RefreshToken
from tests.support import PASSWORD, TenantWorld, bearer

ALL_NINE = [
    "audit:read",
    "permissions:read",
    "projects:delete",
    "projects:read",
    "projects:write",
    "roles:read",
    "tenant:read",
    "users:manage",
    "users:read",
]
ORG_USER_PERMISSIONS = [
    "permissions:read",
    "projects:read",
    "projects:write",
    "roles:read",
    "tenant:read",
    "users:read",
]
READ_ONLY_PERMISSIONS = ["permissions:read", "projects:read", "roles:read", "tenant:read"]


@dataclass
class EndUser:
    id: str
    email: str
    session: str
    environment_id: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.session)


async def sign_up(client: httpx.AsyncClient, environment_id: str) -> EndUser:
    tag = uuid.uuid4().hex[:8]
    body = {
        "name": f"Org User {tag}",
        "email": f"org-{tag}@example.com",
        "username": f"org_{tag}",
        "password": PASSWORD,
    }
    response = await client.post(f"/api/v1/auth/environments/{environment_id}/signup", json=body)
    assert response.status_code == 201, response.text
    return EndUser(response.json()["accountId"], body["email"], response.json()["token"], environment_id)


def orgs_url(environment_id: str, *parts: str) -> str:
    return "/".join([f"/api/v1/environments/{environment_id}/organizations", *parts])


def catalog_url(world: TenantWorld, what: str, environment_id: str | None = None) -> str:
    return f"{world.base}/environments/{environment_id or world.environment_id}/{what}"


async def create_org(client: httpx.AsyncClient, user: EndUser, name: str | None = None) -> str:
    body = {"name": name or f"Org {uuid.uuid4().hex[:8]}"}
    response = await client.post(orgs_url(user.environment_id), json=body, headers=user.auth)
    assert response.status_code == 201, response.text
    organization_id: str = response.json()["id"]
    return organization_id


async def add_member(
    client: httpx.AsyncClient, admin: EndUser, organization_id: str, member: EndUser, role: str
) -> None:
    response = await client.post(
        orgs_url(admin.environment_id, organization_id, "members"),
        json={"accountId": member.id, "role": role},
        headers=admin.auth,
    )
    assert response.status_code == 201, response.text


async def member_roles(client: httpx.AsyncClient, admin: EndUser, organization_id: str) -> dict[str, str]:
    response = await client.get(orgs_url(admin.environment_id, organization_id, "members"), headers=admin.auth)
    assert response.status_code == 200, response.text
    return {member["accountId"]: member["role"] for member in response.json()}


@dataclass
class Scene:
    """An organization with an ORG_ADMIN, an ORG_USER and a READ_ONLY member, and an outsider."""

    organization_id: str
    admin: EndUser
    user: EndUser
    viewer: EndUser
    outsider: EndUser


async def scene(client: httpx.AsyncClient, world: TenantWorld) -> Scene:
    admin, user, viewer, outsider = [await sign_up(client, world.environment_id) for _ in range(4)]
    organization_id = await create_org(client, admin)
    await add_member(client, admin, organization_id, user, "ORG_USER")
    await add_member(client, admin, organization_id, viewer, "READ_ONLY")
    return Scene(organization_id, admin, user, viewer, outsider)


async def token_request(
    client: httpx.AsyncClient, user: EndUser, organization_id: str | None = None, grant: str = "password"
) -> httpx.Response:
    body: dict[str, Any] = {"grantType": grant}
    headers: dict[str, str] = {}
    if grant == "password":
        body |= {"email": user.email, "password": PASSWORD}
    else:
        headers = user.auth
    if organization_id is not None:
        body["organizationId"] = organization_id
    return await client.post(f"/api/v1/auth/environments/{user.environment_id}/token", json=body, headers=headers)


async def tokens_of(client: httpx.AsyncClient, user: EndUser, organization_id: str | None = None) -> dict[str, Any]:
    response = await token_request(client, user, organization_id)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def refresh(client: httpx.AsyncClient, user: EndUser, refresh_token: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/auth/environments/{user.environment_id}/token",
        json={"grantType": "refresh_token", "refreshToken": refresh_token},
    )


def claims(access_token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return decoded


# --- organizations ------------------------------------------------------------------------------------------


async def test_end_user_creates_an_organization_and_becomes_its_admin(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await sign_up(client, world.environment_id)
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
    assert await member_roles(client, user, organization_id) == {user.id: "ORG_ADMIN"}
    by_owner = await client.get(orgs_url(world.environment_id, organization_id), headers=world.owner.auth)
    assert by_owner.status_code == 200
    assert by_owner.json()["role"] is None


async def test_names_are_unique_per_environment(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await sign_up(client, world.environment_id)
    first = await create_org(client, user, "Same Name")
    duplicate = await client.post(orgs_url(world.environment_id), json={"name": "Same Name"}, headers=user.auth)
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "organization_name_taken"
    second = await create_org(client, user, "Other Name")
    rename = await client.patch(orgs_url(world.environment_id, second), json={"name": "Same Name"}, headers=user.auth)
    assert rename.status_code == 409
    same = await client.patch(orgs_url(world.environment_id, first), json={"name": "Same Name"}, headers=user.auth)
    assert same.status_code == 204, "renaming to its own name is no conflict"

    environment = await client.post(f"{world.base}/environments", json={"name": "other"}, headers=world.owner.auth)
    elsewhere = await sign_up(client, environment.json()["id"])
    await create_org(client, elsewhere, "Same Name")

    unknown = await client.post(
        orgs_url(world.environment_id), json={"name": "X Corp", "extra": True}, headers=user.auth
    )
    assert unknown.status_code == 400, "request models forbid unknown fields"


async def test_list_shows_own_organizations_and_all_to_tenant_accounts(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    alice, bob = await sign_up(client, world.environment_id), await sign_up(client, world.environment_id)
    mine = [await create_org(client, alice) for _ in range(3)]
    theirs = await create_org(client, bob)
    await add_member(client, bob, theirs, alice, "READ_ONLY")

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
    user = await sign_up(client, world.environment_id)
    url = orgs_url(world.environment_id)
    missing = await client.post(url, json={"name": "Staff Made"}, headers=world.owner.auth)
    assert missing.status_code == 400
    assert missing.json()["code"] == "admin_account_required"
    created = await client.post(url, json={"name": "Staff Made", "adminAccountId": user.id}, headers=world.owner.auth)
    assert created.status_code == 201
    organization_id = created.json()["id"]
    assert (await client.get(orgs_url(world.environment_id, organization_id), headers=user.auth)).json()[
        "role"
    ] == "ORG_ADMIN"

    tenant_user = await world.add_member("user")
    denied = await client.post(url, json={"name": "Not Allowed", "adminAccountId": user.id}, headers=tenant_user.auth)
    assert denied.status_code == 403
    someone = await sign_up(client, world.environment_id)
    for_someone = await client.post(url, json={"name": "For Someone", "adminAccountId": someone.id}, headers=user.auth)
    assert for_someone.status_code == 400
    assert for_someone.json()["code"] == "admin_account_not_allowed"
    unknown = await client.post(
        url, json={"name": "Ghost Admin", "adminAccountId": str(uuid.uuid4())}, headers=world.owner.auth
    )
    assert unknown.status_code == 404


# --- members ------------------------------------------------------------------------------------------------


async def test_members_are_added_listed_changed_and_removed(client: httpx.AsyncClient, world: TenantWorld) -> None:
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    extra = await sign_up(client, world.environment_id)
    added = await client.post(members_url, json={"accountId": extra.id}, headers=s.admin.auth)
    assert added.status_code == 201
    assert added.json()["role"] == "ORG_USER", "ORG_USER by default"
    assert added.json()["email"] == extra.email

    seen: list[str] = []
    url: str | None = f"{members_url}?limit=2"
    while url:
        page = await client.get(url, headers=s.user.auth)
        assert page.status_code == 200
        seen += [member["accountId"] for member in page.json()]
        url = page.links.get("next", {}).get("url")
    assert seen == [s.admin.id, s.user.id, s.viewer.id, extra.id], "in the order they joined"

    again = await client.post(members_url, json={"accountId": extra.id, "role": "READ_ONLY"}, headers=s.admin.auth)
    assert again.status_code == 409
    assert again.json()["code"] == "already_member"
    no_role = await client.post(members_url, json={"accountId": s.outsider.id, "role": "OWNER"}, headers=s.admin.auth)
    assert no_role.status_code == 400
    assert no_role.json()["code"] == "unknown_role"
    bad_role = await client.post(
        members_url, json={"accountId": s.outsider.id, "role": "no spaces"}, headers=s.admin.auth
    )
    assert bad_role.status_code == 400

    change = await client.patch(f"{members_url}/{s.viewer.id}", json={"role": "ORG_USER"}, headers=s.admin.auth)
    assert change.status_code == 204
    by_tenant = await client.patch(f"{members_url}/{extra.id}", json={"role": "READ_ONLY"}, headers=world.owner.auth)
    assert by_tenant.status_code == 204
    assert (await client.delete(f"{members_url}/{s.user.id}", headers=s.admin.auth)).status_code == 204
    assert await member_roles(client, s.admin, s.organization_id) == {
        s.admin.id: "ORG_ADMIN",
        s.viewer.id: "ORG_USER",
        extra.id: "READ_ONLY",
    }
    assert (await client.get(orgs_url(world.environment_id, s.organization_id), headers=s.user.auth)).status_code == 404
    gone = await client.delete(f"{members_url}/{s.user.id}", headers=s.admin.auth)
    assert gone.status_code == 404
    assert gone.json()["code"] == "member_not_found"
    not_member = await client.patch(f"{members_url}/{s.outsider.id}", json={"role": "ORG_USER"}, headers=s.admin.auth)
    assert not_member.status_code == 404


@pytest.mark.asvs("AC-03")
async def test_a_role_too_low_is_403(client: httpx.AsyncClient, world: TenantWorld) -> None:
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    for member in (s.user, s.viewer):
        add = await client.post(members_url, json={"accountId": s.outsider.id}, headers=member.auth)
        assert add.status_code == 403
        assert add.json()["code"] == "insufficient_org_role"
        promote = await client.patch(f"{members_url}/{member.id}", json={"role": "ORG_ADMIN"}, headers=member.auth)
        assert promote.status_code == 403, "nobody promotes themselves"
        assert (await client.delete(f"{members_url}/{s.admin.id}", headers=member.auth)).status_code == 403
    listing = await client.get(members_url, headers=s.viewer.auth)
    assert listing.status_code == 403, "READ_ONLY lacks users:read"
    assert listing.json()["code"] == "missing_permission"
    assert (await client.get(members_url, headers=s.user.auth)).status_code == 200
    tenant_user = await world.add_member("user")
    assert (await client.get(members_url, headers=tenant_user.auth)).status_code == 200
    assert (
        await client.post(members_url, json={"accountId": s.outsider.id}, headers=tenant_user.auth)
    ).status_code == 403
    assert await member_roles(client, s.admin, s.organization_id) == {
        s.admin.id: "ORG_ADMIN",
        s.user.id: "ORG_USER",
        s.viewer.id: "READ_ONLY",
    }
    leave = await client.delete(f"{members_url}/{s.viewer.id}", headers=s.viewer.auth)
    assert leave.status_code == 204, "a member may leave"


async def test_the_last_org_admin_can_be_neither_demoted_nor_removed(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    for actor in (s.admin, world.owner):
        demote = await client.patch(f"{members_url}/{s.admin.id}", json={"role": "ORG_USER"}, headers=actor.auth)
        assert demote.status_code == 409
        assert demote.json()["code"] == "last_org_admin"
        remove = await client.delete(f"{members_url}/{s.admin.id}", headers=actor.auth)
        assert remove.status_code == 409
        assert remove.json()["code"] == "last_org_admin"

    promote = await client.patch(f"{members_url}/{s.user.id}", json={"role": "ORG_ADMIN"}, headers=s.admin.auth)
    assert promote.status_code == 204
    assert (
        await client.patch(f"{members_url}/{s.admin.id}", json={"role": "READ_ONLY"}, headers=s.admin.auth)
    ).status_code == 204
    assert (await client.delete(f"{members_url}/{s.user.id}", headers=s.user.auth)).status_code == 409
    assert await member_roles(client, s.user, s.organization_id) == {
        s.admin.id: "READ_ONLY",
        s.user.id: "ORG_ADMIN",
        s.viewer.id: "READ_ONLY",
    }


async def test_concurrent_mutual_demotion_leaves_one_org_admin(client: httpx.AsyncClient, world: TenantWorld) -> None:
    for _ in range(3):
        first, second = await sign_up(client, world.environment_id), await sign_up(client, world.environment_id)
        organization_id = await create_org(client, first)
        await add_member(client, first, organization_id, second, "ORG_ADMIN")
        members_url = orgs_url(world.environment_id, organization_id, "members")
        answers = await asyncio.gather(
            client.patch(f"{members_url}/{second.id}", json={"role": "ORG_USER"}, headers=first.auth),
            client.patch(f"{members_url}/{first.id}", json={"role": "ORG_USER"}, headers=second.auth),
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses[0] == 204
        assert statuses[1] in {403, 409}, [answer.text for answer in answers]
        roles = (await client.get(members_url, headers=world.owner.auth)).json()
        assert [member["role"] for member in roles].count("ORG_ADMIN") == 1


async def test_concurrent_mutual_removal_leaves_one_org_admin(client: httpx.AsyncClient, world: TenantWorld) -> None:
    for _ in range(3):
        first, second = await sign_up(client, world.environment_id), await sign_up(client, world.environment_id)
        organization_id = await create_org(client, first)
        await add_member(client, first, organization_id, second, "ORG_ADMIN")
        members_url = orgs_url(world.environment_id, organization_id, "members")
        answers = await asyncio.gather(
            client.delete(f"{members_url}/{second.id}", headers=first.auth),
            client.delete(f"{members_url}/{first.id}", headers=second.auth),
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses[0] == 204
        # The loser is no admin any more (403, or 409 if it saw the other admin go), or, when its request came
        # second, no member at all (404). Either way exactly one ORG_ADMIN remains.
        assert statuses[1] in {403, 404, 409}, [answer.text for answer in answers]
        roles = (await client.get(members_url, headers=world.owner.auth)).json()
        assert [member["role"] for member in roles] == ["ORG_ADMIN"]


# --- isolation ----------------------------------------------------------------------------------------------


@pytest.mark.asvs("AC-02")
async def test_other_environments_tenants_and_non_members_get_404(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    s = await scene(client, world)
    environment = await client.post(f"{world.base}/environments", json={"name": "second"}, headers=world.owner.auth)
    second_environment = environment.json()["id"]
    stranger = await sign_up(client, second_environment)
    own = await create_org(client, stranger)

    wrong_environment = await client.get(orgs_url(second_environment, s.organization_id), headers=stranger.auth)
    assert wrong_environment.status_code == 404
    assert wrong_environment.json()["code"] == "organization_not_found"
    by_owner = await client.get(orgs_url(second_environment, s.organization_id), headers=world.owner.auth)
    assert by_owner.status_code == 404, "an organization id of another environment"
    foreign_member = await client.post(
        orgs_url(world.environment_id, s.organization_id, "members"),
        json={"accountId": stranger.id},
        headers=s.admin.auth,
    )
    assert foreign_member.status_code == 404
    assert foreign_member.json()["code"] == "account_not_found"
    foreign_admin = await client.post(
        orgs_url(world.environment_id),
        json={"name": "Cross Env", "adminAccountId": stranger.id},
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
        ("POST", f"{org_url}/members", {"accountId": s.outsider.id}),
        ("PATCH", f"{org_url}/members/{s.user.id}", {"role": "READ_ONLY"}),
        ("DELETE", f"{org_url}/members/{s.user.id}", None),
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
        s.admin.id: "ORG_ADMIN",
        s.user.id: "ORG_USER",
        s.viewer.id: "READ_ONLY",
    }


# --- roles and permissions ----------------------------------------------------------------------------------


@pytest.mark.asvs("AC-02", "AC-03")
async def test_tenant_admins_manage_the_catalog_and_roles(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    permissions = await client.get(catalog_url(world, "permissions"), headers=world.owner.auth)
    assert permissions.status_code == 200
    assert [permission["name"] for permission in permissions.json()] == ALL_NINE
    roles = await client.get(catalog_url(world, "roles"), headers=world.owner.auth)
    assert {role["name"]: (role["permissions"], role["builtin"]) for role in roles.json()} == {
        "ORG_ADMIN": (ALL_NINE, True),
        "ORG_USER": (ORG_USER_PERMISSIONS, True),
        "READ_ONLY": (READ_ONLY_PERMISSIONS, True),
    }

    tenant_admin, tenant_user = await world.add_member("admin"), await world.add_member("user")
    existing = await client.post(
        catalog_url(world, "permissions"), json={"name": "projects:read"}, headers=world.owner.auth
    )
    assert existing.status_code == 409, "projects:read is one of the nine"
    assert existing.json()["code"] == "permission_exists"
    archive = {"name": "projects:archive", "description": "Archive projects"}
    assert (
        await client.post(catalog_url(world, "permissions"), json=archive, headers=tenant_user.auth)
    ).status_code == 403
    created = await client.post(catalog_url(world, "permissions"), json=archive, headers=tenant_admin.auth)
    assert created.status_code == 201
    assert created.json()["name"] == "projects:archive"
    malformed = await client.post(
        catalog_url(world, "permissions"), json={"name": "Projects"}, headers=world.owner.auth
    )
    assert malformed.status_code == 400
    listed = await client.get(catalog_url(world, "permissions"), headers=tenant_user.auth)
    assert "projects:archive" in [permission["name"] for permission in listed.json()]

    archivist = {"name": "ARCHIVIST", "description": "Archives", "permissions": ["projects:read", "projects:archive"]}
    role = await client.post(catalog_url(world, "roles"), json=archivist, headers=world.owner.auth)
    assert role.status_code == 201
    assert role.json() | {"createdAt": None, "updatedAt": None} == {
        "name": "ARCHIVIST",
        "description": "Archives",
        "permissions": ["projects:archive", "projects:read"],
        "builtin": False,
        "createdAt": None,
        "updatedAt": None,
    }
    assert (await client.post(catalog_url(world, "roles"), json=archivist, headers=world.owner.auth)).status_code == 409
    unknown = {"name": "GHOST", "permissions": ["ghost:walk"]}
    rejected = await client.post(catalog_url(world, "roles"), json=unknown, headers=world.owner.auth)
    assert rejected.status_code == 400
    assert rejected.json()["code"] == "unknown_permission"
    assert (
        await client.post(catalog_url(world, "roles"), json={"name": "X"}, headers=tenant_user.auth)
    ).status_code == 403

    edit = await client.patch(
        catalog_url(world, "roles/ORG_USER"),
        json={"permissions": [*ORG_USER_PERMISSIONS, "projects:archive"]},
        headers=tenant_admin.auth,
    )
    assert edit.status_code == 200
    assert edit.json()["permissions"] == sorted([*ORG_USER_PERMISSIONS, "projects:archive"])
    bad_edit = await client.patch(
        catalog_url(world, "roles/ORG_USER"), json={"permissions": ["ghost:walk"]}, headers=world.owner.auth
    )
    assert bad_edit.status_code == 400
    assert (await client.patch(catalog_url(world, "roles/NOPE"), json={}, headers=world.owner.auth)).status_code == 404

    for builtin in ("ORG_ADMIN", "ORG_USER", "READ_ONLY"):
        kept = await client.delete(catalog_url(world, f"roles/{builtin}"), headers=world.owner.auth)
        assert kept.status_code == 409
        assert kept.json()["code"] == "builtin_role"

    admin, holder = await sign_up(client, world.environment_id), await sign_up(client, world.environment_id)
    organization_id = await create_org(client, admin)
    await add_member(client, admin, organization_id, holder, "ARCHIVIST")
    in_use = await client.delete(catalog_url(world, "roles/ARCHIVIST"), headers=world.owner.auth)
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "role_in_use"
    members_url = orgs_url(world.environment_id, organization_id, "members")
    await client.patch(f"{members_url}/{holder.id}", json={"role": "ORG_USER"}, headers=admin.auth)
    assert (await client.delete(catalog_url(world, "roles/ARCHIVIST"), headers=tenant_user.auth)).status_code == 403
    assert (await client.delete(catalog_url(world, "roles/ARCHIVIST"), headers=world.owner.auth)).status_code == 204
    assert (await client.delete(catalog_url(world, "roles/ARCHIVIST"), headers=world.owner.auth)).status_code == 404
    names = [role["name"] for role in (await client.get(catalog_url(world, "roles"), headers=world.owner.auth)).json()]
    assert names == ["ORG_ADMIN", "ORG_USER", "READ_ONLY"]

    for method, what in (
        ("GET", "permissions"),
        ("POST", "permissions"),
        ("GET", "roles"),
        ("DELETE", "roles/ORG_USER"),
    ):
        body = {"name": "stolen:thing"} if method == "POST" else None
        answer = await client.request(method, catalog_url(world, what), json=body, headers=other.owner.auth)
        assert answer.status_code == 404, (method, what)
        foreign_environment = catalog_url(world, what, other.environment_id)
        assert (
            await client.request(method, foreign_environment, json=body, headers=world.owner.auth)
        ).status_code == 404
    assert (await client.get(catalog_url(world, "roles"))).status_code == 401
    end_user = await sign_up(client, world.environment_id)
    assert (await client.get(catalog_url(world, "roles"), headers=end_user.auth)).status_code == 401


# --- tokens -------------------------------------------------------------------------------------------------


@pytest.mark.asvs("JWT-05")
async def test_access_tokens_carry_the_membership_role_and_its_permissions(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    s = await scene(client, world)
    me_url = f"/api/v1/auth/environments/{world.environment_id}/me"
    for member, role, permissions in (
        (s.admin, "ORG_ADMIN", ALL_NINE),
        (s.user, "ORG_USER", ORG_USER_PERMISSIONS),
        (s.viewer, "READ_ONLY", READ_ONLY_PERMISSIONS),
    ):
        tokens = await tokens_of(client, member)
        issued = claims(tokens["accessToken"])
        assert (issued["org_id"], issued["roles"], issued["permissions"]) == (s.organization_id, [role], permissions)
        me = await client.get(me_url, headers=bearer(tokens["accessToken"]))
        assert me.status_code == 200
        assert (me.json()["organizationId"], me.json()["roles"], me.json()["permissions"]) == (
            s.organization_id,
            [role],
            permissions,
        )
        named = await tokens_of(client, member, s.organization_id)
        assert claims(named["accessToken"])["org_id"] == s.organization_id

    nowhere = claims((await tokens_of(client, s.outsider))["accessToken"])
    assert (nowhere["org_id"], nowhere["roles"], nowhere["permissions"]) == (None, [], [])
    by_session = await client.get(me_url, headers=s.admin.auth)
    assert (by_session.json()["organizationId"], by_session.json()["roles"]) == (None, [])


@pytest.mark.asvs("JWT-05", "AC-02")
async def test_the_active_organization_is_chosen_by_the_rules(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user, stranger = await sign_up(client, world.environment_id), await sign_up(client, world.environment_id)
    first = await create_org(client, user)
    alone = claims((await tokens_of(client, user))["accessToken"])
    assert alone["org_id"] == first, "one membership is chosen without naming it"
    second = await create_org(client, user)
    foreign = await create_org(client, stranger)

    for grant in ("password", "session"):
        several = await token_request(client, user, grant=grant)
        assert several.status_code == 400
        assert several.json()["code"] == "organization_required"
        chosen = await token_request(client, user, second, grant=grant)
        assert chosen.status_code == 200
        assert claims(chosen.json()["accessToken"])["org_id"] == second
        for unknown in (str(uuid.uuid4()), foreign):
            missing = await token_request(client, user, unknown, grant=grant)
            assert missing.status_code == 404
            assert missing.json()["code"] == "organization_not_found"

    other_environment = await client.post(
        f"{world.base}/environments", json={"name": "third"}, headers=world.owner.auth
    )
    elsewhere = await sign_up(client, other_environment.json()["id"])
    elsewhere_org = await create_org(client, elsewhere)
    assert (await token_request(client, user, elsewhere_org)).status_code == 404
    wrong = await token_request(client, user, "not-a-uuid")
    assert wrong.status_code == 400


@pytest.mark.asvs("AC-09", "JWT-05")
async def test_role_and_permission_changes_show_at_the_next_refresh(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    s = await scene(client, world)
    tokens = await tokens_of(client, s.user)
    assert claims(tokens["accessToken"])["roles"] == ["ORG_USER"]
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    await client.patch(f"{members_url}/{s.user.id}", json={"role": "READ_ONLY"}, headers=s.admin.auth)
    refreshed = await refresh(client, s.user, tokens["refreshToken"])
    assert refreshed.status_code == 200
    after = claims(refreshed.json()["accessToken"])
    assert (after["org_id"], after["roles"], after["permissions"]) == (
        s.organization_id,
        ["READ_ONLY"],
        READ_ONLY_PERMISSIONS,
    )

    await client.post(catalog_url(world, "permissions"), json={"name": "reports:read"}, headers=world.owner.auth)
    edit = await client.patch(
        catalog_url(world, "roles/READ_ONLY"), json={"permissions": ["reports:read"]}, headers=world.owner.auth
    )
    assert edit.status_code == 200
    again = await refresh(client, s.user, refreshed.json()["refreshToken"])
    assert claims(again.json()["accessToken"])["permissions"] == ["reports:read"]

    custom = {"name": "AUDITOR", "permissions": ["audit:read", "reports:read"]}
    assert (await client.post(catalog_url(world, "roles"), json=custom, headers=world.owner.auth)).status_code == 201
    await client.patch(f"{members_url}/{s.user.id}", json={"role": "AUDITOR"}, headers=s.admin.auth)
    last = await refresh(client, s.user, again.json()["refreshToken"])
    assert (claims(last.json()["accessToken"])["roles"], claims(last.json()["accessToken"])["permissions"]) == (
        ["AUDITOR"],
        ["audit:read", "reports:read"],
    )


@pytest.mark.asvs("AC-09")
async def test_removing_a_membership_ends_its_refresh_tokens(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    s = await scene(client, world)
    elsewhere = await create_org(client, s.user)
    in_org = await tokens_of(client, s.user, s.organization_id)
    in_own = await tokens_of(client, s.user, elsewhere)
    removed = await client.delete(
        orgs_url(world.environment_id, s.organization_id, "members", s.user.id), headers=s.admin.auth
    )
    assert removed.status_code == 204
    failed = await refresh(client, s.user, in_org["refreshToken"])
    assert failed.status_code == 401
    assert failed.json()["code"] == "invalid_grant"
    rows = list(await db.scalars(select(RefreshToken).where(RefreshToken.account_id == uuid.UUID(s.user.id))))
    assert {row.organization_id for row in rows if row.revoked_at is not None} == {uuid.UUID(s.organization_id)}
    assert (await refresh(client, s.user, in_own["refreshToken"])).status_code == 200, "other organizations stay"
    assert (await token_request(client, s.user, s.organization_id)).status_code == 404

    viewer_tokens = await tokens_of(client, s.viewer)
    assert (
        await client.delete(orgs_url(world.environment_id, s.organization_id), headers=s.admin.auth)
    ).status_code == 204
    assert (await refresh(client, s.viewer, viewer_tokens["refreshToken"])).status_code == 401


@pytest.mark.asvs("AC-09")
async def test_refresh_fails_when_the_membership_is_gone_without_revocation(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A refresh checks the membership itself, not only the revocation done by the removal route: here the
    row goes behind the service's back."""
    s = await scene(client, world)
    tokens = await tokens_of(client, s.user)
    membership = await db.scalar(select(Membership).where(Membership.environment_account_id == uuid.UUID(s.user.id)))
    assert membership is not None
    await db.delete(membership)
    await db.commit()
    failed = await refresh(client, s.user, tokens["refreshToken"])
    assert failed.status_code == 401
    assert failed.json()["code"] == "invalid_grant"
