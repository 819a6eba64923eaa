"""What access tokens say about the active organization: its role and permissions, chosen by the rules,
updated at the next refresh, and ended with the membership."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.audit import AuditEvent
from sump.db.tables.organizations import Membership
from sump.db.tables.sessions import Session
from sump.db.tables.tokens import RefreshToken
from tests.organizations.support import (
    ALL_NINE,
    ORG_USER_PERMISSIONS,
    READ_ONLY_PERMISSIONS,
    catalog_url,
    claims,
    create_org,
    orgs_url,
    refresh,
    scene,
    token_request,
    tokens_of,
)
from tests.support import TenantWorld, bearer


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
    user, stranger = await world.add_end_user(world.environment_id), await world.add_end_user(world.environment_id)
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
    elsewhere = await world.add_end_user(other_environment.json()["id"])
    elsewhere_org = await create_org(client, elsewhere)
    assert (await token_request(client, user, elsewhere_org)).status_code == 404
    wrong = await token_request(client, user, "not-a-uuid")
    assert wrong.status_code == 400


async def test_a_password_grant_refused_for_its_organization_leaves_no_session_behind(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """The password grant signs in, then chooses the organization: when that refuses (several memberships and
    none named, or one that is not the account's), the sign-in is undone with it. No session the client never
    received stays in the account's list, and the audit log holds no successful sign-in for it."""
    user = await world.add_end_user(world.environment_id)
    await create_org(client, user)
    await create_org(client, user)
    account_id = uuid.UUID(user.account_id)

    async def sessions_and_sign_ins() -> tuple[int, int]:
        sessions = await db.scalar(select(func.count()).select_from(Session).where(Session.account_id == account_id))
        succeeded = AuditEvent.action == "login.succeeded"
        sign_ins = await db.scalar(
            select(func.count()).select_from(AuditEvent).where(succeeded, AuditEvent.target_id == account_id)
        )
        return int(sessions or 0), int(sign_ins or 0)

    before = await sessions_and_sign_ins()
    several = await token_request(client, user)
    assert (several.status_code, several.json()["code"]) == (400, "organization_required")
    unknown = await token_request(client, user, str(uuid.uuid4()))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "organization_not_found")
    assert await sessions_and_sign_ins() == before
    listed = await client.get(f"{user.auth_base}/sessions", headers=user.auth)
    assert [session["current"] for session in listed.json()] == [True], listed.text  # the user's own alone


@pytest.mark.asvs("AC-09", "JWT-05")
async def test_role_and_permission_changes_show_at_the_next_refresh(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    s = await scene(client, world)
    tokens = await tokens_of(client, s.user)
    assert claims(tokens["accessToken"])["roles"] == ["ORG_USER"]
    members_url = orgs_url(world.environment_id, s.organization_id, "members")
    await client.patch(f"{members_url}/{s.user.account_id}", json={"role": "READ_ONLY"}, headers=s.admin.auth)
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
    await client.patch(f"{members_url}/{s.user.account_id}", json={"role": "AUDITOR"}, headers=s.admin.auth)
    last = await refresh(client, s.user, again.json()["refreshToken"])
    assert (claims(last.json()["accessToken"])["roles"], claims(last.json()["accessToken"])["permissions"]) == (
        ["AUDITOR"],
        ["audit:read", "reports:read"],
    )


@pytest.mark.asvs("LOG-04")
async def test_token_events_name_the_organization_the_token_acts_in(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """An organization's audit log shows the tokens issued and refreshed in it; a token of no organization
    is in no organization's log."""
    s = await scene(client, world)
    tokens = await tokens_of(client, s.user)
    assert (await refresh(client, s.user, tokens["refreshToken"])).status_code == 200
    await tokens_of(client, s.outsider)

    async def token_events(url: str, **filters: str) -> list[tuple[str, str, str | None]]:
        response = await client.get(url, params=filters, headers=world.owner.auth)
        assert response.status_code == 200, response.text
        return [
            (event["action"], event["targetId"], event["organizationId"])
            for event in reversed(response.json())
            if event["action"].startswith("token.")
        ]

    in_organization = [("token.issued", s.user.account_id, s.organization_id)]
    in_organization.append(("token.refreshed", s.user.account_id, s.organization_id))
    tenant_log, environment_log = (
        f"{world.base}/audit-events",
        f"/api/v1/environments/{world.environment_id}/audit-events",
    )
    assert await token_events(environment_log, organizationId=s.organization_id) == in_organization
    assert await token_events(tenant_log, organizationId=s.organization_id) == in_organization
    assert ("token.issued", s.outsider.account_id, None) in await token_events(environment_log)


@pytest.mark.asvs("AC-09")
async def test_removing_a_membership_ends_its_refresh_tokens(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    s = await scene(client, world)
    elsewhere = await create_org(client, s.user)
    in_org = await tokens_of(client, s.user, s.organization_id)
    in_own = await tokens_of(client, s.user, elsewhere)
    removed = await client.delete(
        orgs_url(world.environment_id, s.organization_id, "members", s.user.account_id), headers=s.admin.auth
    )
    assert removed.status_code == 204
    failed = await refresh(client, s.user, in_org["refreshToken"])
    assert failed.status_code == 401
    assert failed.json()["code"] == "invalid_grant"
    rows = list(await db.scalars(select(RefreshToken).where(RefreshToken.account_id == uuid.UUID(s.user.account_id))))
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
    membership = await db.scalar(
        select(Membership).where(Membership.environment_account_id == uuid.UUID(s.user.account_id))
    )
    assert membership is not None
    await db.delete(membership)
    await db.commit()
    failed = await refresh(client, s.user, tokens["refreshToken"])
    assert failed.status_code == 401
    assert failed.json()["code"] == "invalid_grant"


@pytest.mark.asvs("JWT-06", "AC-09")
async def test_a_replay_ends_the_sign_in_even_when_the_membership_is_gone(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A spent token replayed after the membership went behind the service's back is still a replay: the family
    and the session are revoked, not merely refused because the membership is gone."""
    s = await scene(client, world)
    issued = await tokens_of(client, s.user, s.organization_id)
    spent = issued["refreshToken"]
    rotated = await refresh(client, s.user, spent)
    assert rotated.status_code == 200, rotated.text
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.account_id == uuid.UUID(s.user.account_id), RefreshToken.rotated_at.is_not(None))
        .values(rotated_at=utcnow() - timedelta(minutes=1))  # outside the grace window for concurrent refreshes
    )
    await db.execute(delete(Membership).where(Membership.environment_account_id == uuid.UUID(s.user.account_id)))
    await db.commit()

    replay = await refresh(client, s.user, spent)
    assert (replay.status_code, replay.json()["code"]) == (401, "invalid_grant")
    assert replay.json()["detail"] == "The refresh token was already used; the sign-in is revoked."
    me = await client.get(f"/api/v1/auth/environments/{world.environment_id}/me", headers=bearer(issued["accessToken"]))
    assert (me.status_code, me.json()["code"]) == (401, "invalid_token"), "the grant's session is revoked"
    family = await db.scalars(select(RefreshToken).where(RefreshToken.account_id == uuid.UUID(s.user.account_id)))
    assert all(row.revoked_at is not None for row in family)
