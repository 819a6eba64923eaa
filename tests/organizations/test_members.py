"""Members of an organization: added, listed, given roles and removed; the permissions each role needs; the
last ORG_ADMIN, even under concurrent changes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only

from sump.db.tables.organizations import Membership
from tests.organizations.support import add_member, claims, create_org, member_roles, orgs_url, scene, tokens_of
from tests.support import TenantWorld


async def test_members_are_added_listed_changed_and_removed(client: httpx.AsyncClient, world: TenantWorld) -> None:
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    extra = await world.add_end_user(world.environment_id)
    added = await client.post(members_url, json={"accountId": extra.account_id}, headers=world.owner.auth)
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
    assert seen == [s.admin.account_id, s.user.account_id, s.viewer.account_id, extra.account_id], (
        "in the order they joined"
    )

    again = await client.post(
        members_url, json={"accountId": extra.account_id, "role": "READ_ONLY"}, headers=world.owner.auth
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_member"
    no_role = await client.post(
        members_url, json={"accountId": s.outsider.account_id, "role": "OWNER"}, headers=world.owner.auth
    )
    assert no_role.status_code == 400
    assert no_role.json()["code"] == "unknown_role"
    bad_role = await client.post(
        members_url, json={"accountId": s.outsider.account_id, "role": "no spaces"}, headers=world.owner.auth
    )
    assert bad_role.status_code == 400

    change = await client.patch(f"{members_url}/{s.viewer.account_id}", json={"role": "ORG_USER"}, headers=s.admin.auth)
    assert change.status_code == 204
    by_tenant = await client.patch(
        f"{members_url}/{extra.account_id}", json={"role": "READ_ONLY"}, headers=world.owner.auth
    )
    assert by_tenant.status_code == 204
    assert (await client.delete(f"{members_url}/{s.user.account_id}", headers=s.admin.auth)).status_code == 204
    assert await member_roles(client, s.admin, s.organization_id) == {
        s.admin.account_id: "ORG_ADMIN",
        s.viewer.account_id: "ORG_USER",
        extra.account_id: "READ_ONLY",
    }
    assert (await client.get(orgs_url(world.environment_id, s.organization_id), headers=s.user.auth)).status_code == 404
    gone = await client.delete(f"{members_url}/{s.user.account_id}", headers=s.admin.auth)
    assert gone.status_code == 404
    assert gone.json()["code"] == "member_not_found"
    not_member = await client.patch(
        f"{members_url}/{s.outsider.account_id}", json={"role": "ORG_USER"}, headers=s.admin.auth
    )
    assert not_member.status_code == 404


@pytest.mark.asvs("AC-03")
async def test_an_end_user_joins_an_organization_only_by_consent(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """An ORG_ADMIN who is an end user cannot put another end user into their organization: a token asked for
    without `organizationId` takes the account's only membership, so the victim's next token would carry the
    attacker's organization (and what the victim writes would land there). 403 `invitation_required`; the
    victim's token stays without an organization. An invitation, accepted, is the way in."""
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    victim = s.outsider
    for role in ("ORG_USER", "ORG_ADMIN", "READ_ONLY"):
        refused = await client.post(
            members_url, json={"accountId": victim.account_id, "role": role}, headers=s.admin.auth
        )
        assert refused.status_code == 403
        assert refused.json()["code"] == "invitation_required"
        assert victim.account_id not in refused.text, "nothing of the account is told"
    assert victim.account_id not in await member_roles(client, s.admin, s.organization_id)
    issued = claims((await tokens_of(client, victim))["accessToken"])
    assert (issued["org_id"], issued["roles"]) == (None, []), "no membership was made for the victim"

    invited = await client.post(
        orgs_url(world.environment_id, s.organization_id, "invitations"),
        json={"email": victim.email, "role": "ORG_USER"},
        headers=s.admin.auth,
    )
    assert invited.status_code == 201, invited.text
    assert victim.account_id not in await member_roles(client, s.admin, s.organization_id), "not until accepted"


async def test_a_member_cannot_be_given_a_role_the_environment_does_not_have(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """Only a role of the environment's catalog can be given: a made-up one (even a tenant role's name) is
    400 `unknown_role`, and the member keeps their role."""
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    for by in (s.admin, world.owner):
        refused = await client.patch(f"{members_url}/{s.viewer.account_id}", json={"role": "OWNER"}, headers=by.auth)
        assert refused.status_code == 400
        assert refused.json()["code"] == "unknown_role"
    assert (await member_roles(client, s.admin, s.organization_id))[s.viewer.account_id] == "READ_ONLY"


@pytest.mark.asvs("AC-03")
async def test_a_role_too_low_is_403(client: httpx.AsyncClient, world: TenantWorld) -> None:
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    for member in (s.user, s.viewer):
        add = await client.post(members_url, json={"accountId": s.outsider.account_id}, headers=member.auth)
        assert add.status_code == 403
        assert add.json()["code"] == "insufficient_org_role"
        promote = await client.patch(
            f"{members_url}/{member.account_id}", json={"role": "ORG_ADMIN"}, headers=member.auth
        )
        assert promote.status_code == 403, "nobody promotes themselves"
        assert (await client.delete(f"{members_url}/{s.admin.account_id}", headers=member.auth)).status_code == 403
    listing = await client.get(members_url, headers=s.viewer.auth)
    assert listing.status_code == 403, "READ_ONLY lacks users:read"
    assert listing.json()["code"] == "missing_permission"
    assert (await client.get(members_url, headers=s.user.auth)).status_code == 200
    tenant_user = await world.add_member("user")
    assert (await client.get(members_url, headers=tenant_user.auth)).status_code == 200
    assert (
        await client.post(members_url, json={"accountId": s.outsider.account_id}, headers=tenant_user.auth)
    ).status_code == 403
    assert await member_roles(client, s.admin, s.organization_id) == {
        s.admin.account_id: "ORG_ADMIN",
        s.user.account_id: "ORG_USER",
        s.viewer.account_id: "READ_ONLY",
    }
    leave = await client.delete(f"{members_url}/{s.viewer.account_id}", headers=s.viewer.auth)
    assert leave.status_code == 204, "a member may leave"


async def test_the_last_org_admin_can_be_neither_demoted_nor_removed(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    for actor in (s.admin, world.owner):
        demote = await client.patch(
            f"{members_url}/{s.admin.account_id}", json={"role": "ORG_USER"}, headers=actor.auth
        )
        assert demote.status_code == 409
        assert demote.json()["code"] == "last_org_admin"
        remove = await client.delete(f"{members_url}/{s.admin.account_id}", headers=actor.auth)
        assert remove.status_code == 409
        assert remove.json()["code"] == "last_org_admin"

    promote = await client.patch(f"{members_url}/{s.user.account_id}", json={"role": "ORG_ADMIN"}, headers=s.admin.auth)
    assert promote.status_code == 204
    assert (
        await client.patch(f"{members_url}/{s.admin.account_id}", json={"role": "READ_ONLY"}, headers=s.admin.auth)
    ).status_code == 204
    assert (await client.delete(f"{members_url}/{s.user.account_id}", headers=s.user.auth)).status_code == 409
    assert await member_roles(client, s.user, s.organization_id) == {
        s.admin.account_id: "READ_ONLY",
        s.user.account_id: "ORG_ADMIN",
        s.viewer.account_id: "READ_ONLY",
    }


@pytest.mark.parametrize("change", ["leave", "demote"])
async def test_a_disabled_org_admin_is_not_the_one_left(
    client: httpx.AsyncClient, world: TenantWorld, change: str
) -> None:
    """An organization keeps an ORG_ADMIN who can act: a disabled one does not count, so the last enabled one
    can neither leave nor be demoted while the other is disabled, and can once it is enabled again."""
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    await add_member(client, world.owner, s.organization_id, s.outsider, "ORG_ADMIN")
    account_url = f"/api/v1/environments/{world.environment_id}/accounts/{s.outsider.account_id}"

    async def change_the_admin() -> httpx.Response:
        if change == "leave":
            return await client.delete(f"{members_url}/{s.admin.account_id}", headers=s.admin.auth)
        return await client.patch(
            f"{members_url}/{s.admin.account_id}", json={"role": "ORG_USER"}, headers=s.admin.auth
        )

    assert (await client.patch(f"{account_url}/disable", headers=world.owner.auth)).status_code == 204
    refused = await change_the_admin()
    assert (refused.status_code, refused.json()["code"]) == (409, "last_org_admin"), refused.text
    assert (await client.patch(f"{account_url}/enable", headers=world.owner.auth)).status_code == 204
    assert (await change_the_admin()).status_code == 204


@pytest.mark.parametrize("change", ["remove", "demote"])
async def test_a_disabled_last_org_admin_is_removed_or_demoted_by_the_tenants_admins(
    client: httpx.AsyncClient, world: TenantWorld, change: str
) -> None:
    """An organization whose only ORG_ADMIN is disabled has no ORG_ADMIN who can act already: the tenant's owner
    who governs it then removes or demotes that account (it is not the last one who can act), and promotes a
    member in its place."""
    s = await scene(client, world)
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    account_url = f"/api/v1/environments/{world.environment_id}/accounts/{s.admin.account_id}"
    assert (await client.patch(f"{account_url}/disable", headers=world.owner.auth)).status_code == 204
    if change == "remove":
        changed = await client.delete(f"{members_url}/{s.admin.account_id}", headers=world.owner.auth)
    else:
        body = {"role": "ORG_USER"}
        changed = await client.patch(f"{members_url}/{s.admin.account_id}", json=body, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    roles = {
        member["accountId"]: member["role"]
        for member in (await client.get(members_url, headers=world.owner.auth)).json()
    }
    assert "ORG_ADMIN" not in roles.values()
    promoted = await client.patch(
        f"{members_url}/{s.user.account_id}", json={"role": "ORG_ADMIN"}, headers=world.owner.auth
    )
    assert promoted.status_code == 204, promoted.text


async def test_concurrent_mutual_demotion_leaves_one_org_admin(client: httpx.AsyncClient, world: TenantWorld) -> None:
    for _ in range(3):
        first, second = await world.add_end_user(world.environment_id), await world.add_end_user(world.environment_id)
        organization_id = await create_org(client, first)
        await add_member(client, world.owner, organization_id, second, "ORG_ADMIN")
        members_url = orgs_url(world.environment_id, organization_id, "members")
        answers = await asyncio.gather(
            client.patch(f"{members_url}/{second.account_id}", json={"role": "ORG_USER"}, headers=first.auth),
            client.patch(f"{members_url}/{first.account_id}", json={"role": "ORG_USER"}, headers=second.auth),
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses[0] == 204
        assert statuses[1] in {403, 409}, [answer.text for answer in answers]
        roles = (await client.get(members_url, headers=world.owner.auth)).json()
        assert [member["role"] for member in roles].count("ORG_ADMIN") == 1


async def test_concurrent_mutual_removal_leaves_one_org_admin(client: httpx.AsyncClient, world: TenantWorld) -> None:
    for _ in range(3):
        first, second = await world.add_end_user(world.environment_id), await world.add_end_user(world.environment_id)
        organization_id = await create_org(client, first)
        await add_member(client, world.owner, organization_id, second, "ORG_ADMIN")
        members_url = orgs_url(world.environment_id, organization_id, "members")
        answers = await asyncio.gather(
            client.delete(f"{members_url}/{second.account_id}", headers=first.auth),
            client.delete(f"{members_url}/{first.account_id}", headers=second.auth),
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses[0] == 204
        # The loser is no admin any more (403, or 409 if it saw the other admin go), or, when its request came
        # second, no member at all (404). Either way exactly one ORG_ADMIN remains.
        assert statuses[1] in {403, 404, 409}, [answer.text for answer in answers]
        roles = (await client.get(members_url, headers=world.owner.auth)).json()
        assert [member["role"] for member in roles] == ["ORG_ADMIN"]


@pytest.mark.parametrize("change", ["role", "removal"])
async def test_an_org_admin_demoted_while_their_change_waited_for_the_lock_is_refused(
    client: httpx.AsyncClient, world: TenantWorld, app: FastAPI, db: AsyncSession, change: str
) -> None:
    """A change of members is checked twice: before it takes the organization's lock (to refuse early) and
    again under it, against the ORG_ADMINs as they are once concurrent changes are settled. Here another admin
    demotes the actor just before the actor's request takes the lock (committed first, as a request that won
    the lock would): with a third admin left, only the second check stands between the demoted actor and the
    change."""
    s = await scene(client, world)
    other_admin = await world.add_end_user(world.environment_id)
    await add_member(client, world.owner, s.organization_id, other_admin, "ORG_ADMIN")
    demoted: list[str] = []

    def demote_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        """Before the request's first lock (on SQLite its first write, which takes the database): the role's
        for a change of role, the admins' otherwise. After the first check, which reads without locking."""
        locking = statement.startswith(("UPDATE organization SET", "UPDATE role SET")) or " FOR " in statement
        if locking and not demoted:
            demoted.append(statement)
            actor = Membership.environment_account_id == uuid.UUID(s.admin.account_id)
            await_only(db.execute(update(Membership).where(actor).values(role="ORG_USER")))
            await_only(db.commit())

    member_url = orgs_url(world.environment_id, s.organization_id, "members", s.user.account_id)
    event.listen(app.state.engine.sync_engine, "before_cursor_execute", demote_first)
    try:
        if change == "role":
            refused = await client.patch(member_url, json={"role": "READ_ONLY"}, headers=s.admin.auth)
        else:
            refused = await client.delete(member_url, headers=s.admin.auth)
    finally:
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", demote_first)

    assert demoted, "the request reached the lock"
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_org_role"), refused.text
    assert await member_roles(client, other_admin, s.organization_id) == {
        s.admin.account_id: "ORG_USER",
        other_admin.account_id: "ORG_ADMIN",
        s.user.account_id: "ORG_USER",
        s.viewer.account_id: "READ_ONLY",
    }
