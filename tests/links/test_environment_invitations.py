"""Invitations in an environment: into an organization (accepted by the end user holding the address, signed in,
or by someone new who signs up through the link; never under another address) and for end users made without a
password (who set one through the link). Emails are read from a real SMTP server."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.links import Invitation
from tests.clients.support import automation
from tests.clients.test_automation import token_for
from tests.factors.conftest import Clock
from tests.links.conftest import delivered, events, link_in
from tests.mail import SmtpServer, reset_token
from tests.support import PASSWORD, EndUser, TenantWorld, bearer, expire, new_tenant

ORGANIZATION = "You are invited to join an organization"
READY = "Your account is ready: choose a password"
INVALID = (400, "invalid_token")
NEW_PASSWORD = "a passphrase of my own"


def code(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("code")


def address() -> str:
    return f"invited-{uuid.uuid4().hex[:8]}@example.com"


async def organization(world: TenantWorld, admin: EndUser) -> str:
    created = await world.http.post(
        f"/api/v1/environments/{admin.environment_id}/organizations",
        json={"name": f"org-{uuid.uuid4().hex[:8]}", "adminAccountId": admin.account_id},
        headers=world.owner.auth,
    )
    assert created.status_code == 201, created.text
    organization_id: str = created.json()["id"]
    return organization_id


def invitations_url(environment_id: str, organization_id: str) -> str:
    return f"/api/v1/environments/{environment_id}/organizations/{organization_id}/invitations"


async def invite(
    world: TenantWorld, admin: EndUser, organization_id: str, email: str, role: str = "ORG_USER", **headers: str
) -> httpx.Response:
    return await world.http.post(
        invitations_url(admin.environment_id, organization_id),
        json={"email": email, "role": role},
        headers=headers or admin.auth,
    )


def members_url(environment_id: str, organization_id: str) -> str:
    return f"/api/v1/environments/{environment_id}/organizations/{organization_id}/members"


async def members(world: TenantWorld, environment_id: str, organization_id: str) -> dict[str, str]:
    listed = await world.http.get(members_url(environment_id, organization_id), headers=world.owner.auth)
    assert listed.status_code == 200, listed.text
    return {member["accountId"]: member["role"] for member in listed.json()}


async def add_member(world: TenantWorld, organization_id: str, member: EndUser, **role: str) -> None:
    """`member` made a member of the organization by the tenant's owner (the default role unless `role=`)."""
    body = {"accountId": member.account_id, **role}
    url = members_url(world.environment_id, organization_id)
    added = await world.http.post(url, json=body, headers=world.owner.auth)
    assert added.status_code == 201, added.text


def signup_body(token: str, **overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    return {"token": token, "name": f"New {tag}", "username": f"new_{tag}", "password": NEW_PASSWORD, **overrides}


async def test_someone_new_signs_up_through_an_organizations_invitation(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    admin = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, admin)
    email = address()
    invited = await invite(world, admin, organization_id, email, "READ_ONLY")
    assert invited.status_code == 201, invited.text
    assert (invited.json()["organizationId"], invited.json()["role"]) == (organization_id, "READ_ONLY")
    message = await delivered(mail_app, smtp, email, ORGANIZATION)
    page, family, context, token = link_in(message)
    assert (page, family, context) == ("accept-invitation", "environment", world.environment_id)

    base = f"/api/v1/auth/environments/{world.environment_id}/invitations"
    described = await http.post(f"{base}/lookup", json={"token": token})
    assert described.status_code == 200, described.text
    assert described.json()["kind"] == "organization"
    assert (described.json()["organizationId"], described.json()["role"]) == (organization_id, "READ_ONLY")
    assert described.json()["organizationName"].startswith("org-")
    other = await world.add_environment()
    elsewhere = await http.post(f"/api/v1/auth/environments/{other}/invitations/lookup", json={"token": token})
    assert code(elsewhere) == INVALID
    joined = await http.post(f"{base}/signup", json=signup_body(token))
    assert joined.status_code == 201, joined.text
    account_id = joined.json()["accountId"]
    assert joined.json()["token"]
    assert (await members(world, world.environment_id, organization_id))[account_id] == "READ_ONLY"
    account = await http.get(
        f"/api/v1/environments/{world.environment_id}/accounts/{account_id}", headers=world.owner.auth
    )
    assert (account.json()["email"], account.json()["emailVerified"]) == (email, True)
    assert code(await http.post(f"{base}/signup", json=signup_body(token))) == INVALID
    assert await events(db, "organization.invited", organization_id=organization_id)
    assert await events(db, "membership.added", target_id=account_id)


async def test_signing_up_through_an_invitation_where_factors_are_required_ends_in_the_enrolment_challenge(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, clock: Clock
) -> None:
    """The membership and the verified email are made at once; the session waits for the factor, as after a
    password sign-in there."""
    world = await new_tenant(http)
    admin = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, admin)
    settings = f"{world.base}/environments/{world.environment_id}"
    required = await http.patch(settings, json={"settings": {"factorPolicy": "required"}}, headers=world.owner.auth)
    assert required.status_code == 204, required.text
    email = address()
    assert (await invite(world, admin, organization_id, email)).status_code == 201
    token = link_in(await delivered(mail_app, smtp, email, ORGANIZATION))[3]

    auth = f"/api/v1/auth/environments/{world.environment_id}"
    joined = await http.post(f"{auth}/invitations/signup", json=signup_body(token))
    assert joined.status_code == 202, joined.text
    answer = joined.json()
    assert set(answer) == {"challenge", "factors", "enrol", "expiresIn"}
    assert (answer["enrol"], answer["factors"], answer["expiresIn"]) == (True, ["totp"], 300)
    assert "set-cookie" not in joined.headers
    [account_id] = set(await members(world, world.environment_id, organization_id)) - {admin.account_id}
    assert (await members(world, world.environment_id, organization_id))[account_id] == "ORG_USER"
    account = await http.get(
        f"/api/v1/environments/{world.environment_id}/accounts/{account_id}", headers=world.owner.auth
    )
    assert (account.json()["email"], account.json()["emailVerified"]) == (email, True)
    [event] = await events(db, "signup", target_id=account_id)
    assert event.details == {"invitation": event.details["invitation"], "enrolment_required": True}
    assert await events(db, "login.succeeded", target_id=account_id) == []

    started = await http.post(f"{auth}/login/enrol/totp", json={"challenge": answer["challenge"]})
    assert started.status_code == 201, started.text
    setup = started.json()
    done = await http.post(
        f"{auth}/login/enrol/totp/confirm",
        json={"challenge": answer["challenge"], "factorId": setup["factorId"], "code": clock.code(setup["secret"])},
    )
    assert done.status_code == 200, done.text
    assert done.json()["accountId"] == account_id
    assert done.json()["session"]["amr"] == ["pwd", "otp", "mfa"]
    assert done.headers["set-cookie"].startswith("sump_session=")


async def test_an_end_user_accepts_from_their_account_but_never_under_another_address(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    admin = await world.add_end_user(world.environment_id)
    invitee = await world.add_end_user(world.environment_id)
    stranger = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, admin)
    assert (await invite(world, admin, organization_id, invitee.email)).status_code == 201
    token = link_in(await delivered(mail_app, smtp, invitee.email, ORGANIZATION))[3]
    accept = f"/api/v1/auth/environments/{world.environment_id}/invitations/accept"

    anonymous = await http.post(accept, json={"token": token})
    assert anonymous.status_code == 401
    refused = await http.post(accept, json={"token": token}, headers=stranger.auth)
    assert code(refused) == (403, "invitation_email_mismatch")
    assert stranger.account_id not in await members(world, world.environment_id, organization_id)
    # Signing up under the invited address is refused too: it has an end user, who signs in to accept.
    signup = f"/api/v1/auth/environments/{world.environment_id}/invitations/signup"
    assert code(await http.post(signup, json=signup_body(token))) == (409, "identifier_taken")

    accepted = await http.post(accept, json={"token": token}, headers=invitee.auth)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"organizationId": organization_id, "role": "ORG_USER"}
    assert (await members(world, world.environment_id, organization_id))[invitee.account_id] == "ORG_USER"
    assert code(await http.post(accept, json={"token": token}, headers=invitee.auth)) == INVALID


async def test_who_may_invite_into_an_organization(http: httpx.AsyncClient, mail_app: FastAPI) -> None:
    world = await new_tenant(http)
    admin = await world.add_end_user(world.environment_id)
    member = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, admin)
    url = invitations_url(world.environment_id, organization_id)
    await add_member(world, organization_id, member)
    assert code(await invite(world, member, organization_id, address())) == (403, "insufficient_org_role")
    tenant_user = await world.add_member("user")
    tenant_admin = await world.add_member("admin")
    assert (await invite(world, admin, organization_id, address(), **tenant_user.auth)).status_code == 403
    assert (await invite(world, admin, organization_id, address(), **tenant_admin.auth)).status_code == 201
    assert code(await invite(world, admin, organization_id, address(), "NO_SUCH_ROLE")) == (400, "unknown_role")
    assert code(await invite(world, admin, organization_id, member.email)) == (409, "already_member")
    assert (await http.get(url, headers=member.auth)).status_code == 403
    outsider = await world.add_end_user(world.environment_id)
    assert (await invite(world, admin, organization_id, address(), **outsider.auth)).status_code == 404
    extra = await http.post(url, json={"email": address(), "role": "ORG_USER", "x": 1}, headers=admin.auth)
    assert extra.status_code == 400


async def test_an_invitation_is_bound_to_its_environment_and_dies_on_resend_and_revoke(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    admin = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, admin)
    email = address()
    invitation_id = (await invite(world, admin, organization_id, email)).json()["id"]
    first = link_in(await delivered(mail_app, smtp, email, ORGANIZATION))[3]
    elsewhere = await world.add_environment()
    for environment_id in (elsewhere, (await new_tenant(http)).environment_id):
        wrong = f"/api/v1/auth/environments/{environment_id}/invitations/signup"
        assert code(await http.post(wrong, json=signup_body(first))) == INVALID
    url = invitations_url(world.environment_id, organization_id)
    assert [row["id"] for row in (await http.get(url, headers=admin.auth)).json()] == [invitation_id]
    assert (await http.post(f"{url}/{invitation_id}/resend", headers=admin.auth)).status_code == 200
    second = link_in(await delivered(mail_app, smtp, email, ORGANIZATION, count=2))[3]
    signup = f"/api/v1/auth/environments/{world.environment_id}/invitations/signup"
    assert code(await http.post(signup, json=signup_body(first))) == INVALID
    assert (await http.delete(f"{url}/{invitation_id}", headers=admin.auth)).status_code == 204
    assert code(await http.post(signup, json=signup_body(second))) == INVALID
    assert (await http.get(url, headers=admin.auth)).json() == []


async def _made_without_password(http: httpx.AsyncClient) -> tuple[TenantWorld, str, str, str]:
    """A new tenant, its end users' URL, and the id and email of one of them made without a password."""
    world = await new_tenant(http)
    tag = uuid.uuid4().hex[:8]
    accounts = f"/api/v1/environments/{world.environment_id}/accounts"
    body = {"name": f"Made {tag}", "email": f"made-{tag}@example.com", "username": f"made_{tag}"}
    made = await http.post(accounts, json=body, headers=world.owner.auth)
    assert made.status_code == 201, made.text
    return world, accounts, made.json()["id"], body["email"]


async def test_an_end_user_made_without_a_password_sets_one_through_an_invitation(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world, accounts, account_id, email = await _made_without_password(http)
    end_user = await world.add_end_user(world.environment_id)
    refused = await http.post(f"{accounts}/{account_id}/invitation", headers=end_user.auth)
    assert refused.status_code == 403
    sent = await http.post(f"{accounts}/{account_id}/invitation", headers=world.owner.auth)
    assert sent.status_code == 202, sent.text
    first = link_in(await delivered(mail_app, smtp, email, READY))
    assert first[:3] == ("set-password", "environment", world.environment_id)
    assert (await http.post(f"{accounts}/{account_id}/invitation", headers=world.owner.auth)).status_code == 202
    second = link_in(await delivered(mail_app, smtp, email, READY, count=2))[3]

    base = f"/api/v1/auth/environments/{world.environment_id}"
    stale = await http.post(f"{base}/invitations/set-password", json={"token": first[3], "password": NEW_PASSWORD})
    assert code(stale) == INVALID
    weak = await http.post(f"{base}/invitations/set-password", json={"token": second, "password": "password"})
    assert code(weak) == (400, "password_too_common")
    # An invitation of one environment is nothing in another.
    other = await world.add_environment()
    elsewhere = await http.post(
        f"/api/v1/auth/environments/{other}/invitations/set-password", json={"token": second, "password": PASSWORD}
    )
    assert code(elsewhere) == INVALID
    done = await http.post(f"{base}/invitations/set-password", json={"token": second, "password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    assert (await http.post(f"{base}/login", json={"email": email, "password": NEW_PASSWORD})).status_code == 200
    account = (await http.get(f"{accounts}/{account_id}", headers=world.owner.auth)).json()
    assert account["emailVerified"] is True
    again = await http.post(
        f"{base}/invitations/set-password", json={"token": second, "password": "another passphrase"}
    )
    assert code(again) == INVALID
    assert code(await http.post(f"{accounts}/{account_id}/invitation", headers=world.owner.auth)) == (
        409,
        "password_already_set",
    )
    assert await events(db, "end_user.invitation_accepted", target_id=account_id)


async def test_set_password_invitations_to_one_address_are_limited(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """At most 3 in 15 minutes to one end user's address, whoever sends them; the last link still works."""
    world, accounts, account_id, email = await _made_without_password(http)
    admin = await world.add_member("admin")
    for sender in (world.owner, admin, world.owner):
        assert (await http.post(f"{accounts}/{account_id}/invitation", headers=sender.auth)).status_code == 202
    refused = await http.post(f"{accounts}/{account_id}/invitation", headers=admin.auth)
    assert code(refused) == (429, "rate_limited")
    last = link_in(await delivered(mail_app, smtp, email, READY, count=3))[3]
    base = f"/api/v1/auth/environments/{world.environment_id}"
    done = await http.post(f"{base}/invitations/set-password", json={"token": last, "password": NEW_PASSWORD})
    assert done.status_code == 200, done.text


async def test_a_set_password_invitation_is_no_invitation_into_an_organization(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world, accounts, account_id, email = await _made_without_password(http)
    assert (await http.post(f"{accounts}/{account_id}/invitation", headers=world.owner.auth)).status_code == 202
    token = link_in(await delivered(mail_app, smtp, email, READY))[3]

    base = f"/api/v1/auth/environments/{world.environment_id}/invitations"
    assert code(await http.post(f"{base}/signup", json=signup_body(token))) == INVALID
    kept = await http.post(f"{base}/set-password", json={"token": token, "password": NEW_PASSWORD})
    assert kept.status_code == 200, kept.text


async def test_only_the_organizations_admins_resend_or_revoke_its_invitations(
    http: httpx.AsyncClient, mail_app: FastAPI
) -> None:
    """An invitation is managed through its own organization: another organization's ORG_ADMIN naming it under
    theirs gets 404, a plain member of its organization 403, and it stays pending."""
    world = await new_tenant(http)
    admin, other_admin, member = [await world.add_end_user(world.environment_id) for _ in range(3)]
    organization_id, other_id = await organization(world, admin), await organization(world, other_admin)
    await add_member(world, organization_id, member)
    invitation_id = (await invite(world, admin, organization_id, address())).json()["id"]
    elsewhere = f"{invitations_url(world.environment_id, other_id)}/{invitation_id}"
    assert code(await http.post(f"{elsewhere}/resend", headers=other_admin.auth)) == (404, "invitation_not_found")
    assert code(await http.delete(elsewhere, headers=other_admin.auth)) == (404, "invitation_not_found")
    own = f"{invitations_url(world.environment_id, organization_id)}/{invitation_id}"
    assert code(await http.post(f"{own}/resend", headers=member.auth)) == (403, "insufficient_org_role")
    assert code(await http.delete(own, headers=member.auth)) == (403, "insufficient_org_role")
    listed = await http.get(invitations_url(world.environment_id, organization_id), headers=admin.auth)
    assert [row["id"] for row in listed.json()] == [invitation_id]


async def test_accepting_needs_the_invitation_still_to_make_sense(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Accepting re-checks what inviting checked: a role deleted from the catalog since is 400 `unknown_role`
    (someone added to the organization since finds the link dead: below)."""
    world = await new_tenant(http)
    admin, later = [await world.add_end_user(world.environment_id) for _ in range(2)]
    organization_id = await organization(world, admin)
    accept = f"/api/v1/auth/environments/{world.environment_id}/invitations/accept"

    catalog = f"{world.base}/environments/{world.environment_id}/roles"
    made = await http.post(catalog, json={"name": "TEMPORARY", "permissions": []}, headers=world.owner.auth)
    assert made.status_code == 201, made.text
    assert (await invite(world, admin, organization_id, later.email, "TEMPORARY")).status_code == 201
    token = link_in(await delivered(mail_app, smtp, later.email, ORGANIZATION))[3]
    assert (await http.delete(f"{catalog}/TEMPORARY", headers=world.owner.auth)).status_code == 204
    assert code(await http.post(accept, json={"token": token}, headers=later.auth)) == (400, "unknown_role")
    assert later.account_id not in await members(world, world.environment_id, organization_id)


@pytest.mark.parametrize("fate", ["removed", "left"])
async def test_a_pending_invitation_ends_when_the_membership_is_decided_otherwise(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, fate: str
) -> None:
    """An invitation as ORG_ADMIN, then a direct add as READ_ONLY, then a removal (or the member leaving): the
    old link must not bring them back, let alone as ORG_ADMIN. Adding a member ends the address's pending
    invitations to the organization, and so does a removal (one issued while the add ran is still pending)."""
    world = await new_tenant(http)
    admin, member = [await world.add_end_user(world.environment_id) for _ in range(2)]
    organization_id = await organization(world, admin)
    accept = f"/api/v1/auth/environments/{world.environment_id}/invitations/accept"
    assert (await invite(world, admin, organization_id, member.email, "ORG_ADMIN")).status_code == 201
    token = link_in(await delivered(mail_app, smtp, member.email, ORGANIZATION))[3]
    await add_member(world, organization_id, member, role="READ_ONLY")
    assert code(await http.post(accept, json={"token": token}, headers=member.auth)) == INVALID
    assert (await members(world, world.environment_id, organization_id))[member.account_id] == "READ_ONLY"

    # As an invitation issued concurrently with the add leaves it: pending, to a member.
    pending = Invitation.organization_id == uuid.UUID(organization_id)
    await db.execute(update(Invitation).where(pending).values(revoked_at=None))
    await db.commit()
    removal = f"{members_url(world.environment_id, organization_id)}/{member.account_id}"
    assert (await http.delete(removal, headers=admin.auth if fate == "removed" else member.auth)).status_code == 204

    assert code(await http.post(accept, json={"token": token}, headers=member.auth)) == INVALID
    assert member.account_id not in await members(world, world.environment_id, organization_id)
    # A new invitation after the removal is the admins' new decision, and works.
    assert (await invite(world, admin, organization_id, member.email, "ORG_USER")).status_code == 201
    again = link_in(await delivered(mail_app, smtp, member.email, ORGANIZATION, count=2))[3]
    joined = await http.post(accept, json={"token": again}, headers=member.auth)
    assert joined.status_code == 200, joined.text
    assert (await members(world, world.environment_id, organization_id))[member.account_id] == "ORG_USER"


async def test_a_set_password_invitation_of_a_disabled_end_user_sets_nothing(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Disabling the end user after the invitation was sent makes its link invalid (400 `invalid_token`); enabled
    again, the same link works."""
    world, accounts, account_id, email = await _made_without_password(http)
    assert (await http.post(f"{accounts}/{account_id}/invitation", headers=world.owner.auth)).status_code == 202
    token = link_in(await delivered(mail_app, smtp, email, READY))[3]
    assert (await http.patch(f"{accounts}/{account_id}/disable", headers=world.owner.auth)).status_code == 204
    set_password = f"/api/v1/auth/environments/{world.environment_id}/invitations/set-password"
    assert code(await http.post(set_password, json={"token": token, "password": NEW_PASSWORD})) == INVALID
    shown = await http.get(f"{accounts}/{account_id}", headers=world.owner.auth)
    assert shown.json()["emailVerified"] is False
    assert (await http.patch(f"{accounts}/{account_id}/enable", headers=world.owner.auth)).status_code == 204
    kept = await http.post(set_password, json={"token": token, "password": NEW_PASSWORD})
    assert kept.status_code == 200, kept.text


async def test_a_set_password_invitation_sets_nothing_once_the_end_user_chose_a_password_by_reset(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """An end user who set a password through a reset link before following the invitation keeps it: the older
    invitation link, should anyone else hold it, replaces nothing (400 `invalid_token`)."""
    world, accounts, account_id, email = await _made_without_password(http)
    assert (await http.post(f"{accounts}/{account_id}/invitation", headers=world.owner.auth)).status_code == 202
    invitation = link_in(await delivered(mail_app, smtp, email, READY))[3]
    base = f"/api/v1/auth/environments/{world.environment_id}"
    assert (await http.post(f"{base}/forgot-password", json={"email": email})).status_code == 200
    reset = reset_token(await delivered(mail_app, smtp, email, "Reset your password"))
    chosen = await http.post(f"{base}/reset-password", json={"token": reset, "newPassword": NEW_PASSWORD})
    assert chosen.status_code == 200, chosen.text

    other = "the invitation holder's passphrase"
    assert code(await http.post(f"{base}/invitations/set-password", json={"token": invitation, "password": other})) == (
        INVALID
    )
    assert (await http.post(f"{base}/login", json={"email": email, "password": NEW_PASSWORD})).status_code == 200
    assert code(await http.post(f"{base}/login", json={"email": email, "password": other})) == (
        401,
        "invalid_credentials",
    )


async def test_inviting_another_address_leaves_the_pending_invitations_of_others(
    http: httpx.AsyncClient, mail_app: FastAPI
) -> None:
    """A new invitation revokes only the pending one of the same address into the same organization."""
    world = await new_tenant(http)
    admin = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, admin)
    first = (await invite(world, admin, organization_id, address())).json()["id"]
    second = (await invite(world, admin, organization_id, address())).json()["id"]
    listed = await http.get(invitations_url(world.environment_id, organization_id), headers=admin.auth)
    assert sorted(row["id"] for row in listed.json()) == sorted([first, second])


async def test_a_set_password_invitation_is_bound_to_the_address_it_was_sent_to(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Once an admin changes the end user's email, the link sent to the old address sets no password and
    verifies nothing (400 `invalid_token`)."""
    world, accounts, account_id, email = await _made_without_password(http)
    assert (await http.post(f"{accounts}/{account_id}/invitation", headers=world.owner.auth)).status_code == 202
    token = link_in(await delivered(mail_app, smtp, email, READY))[3]
    moved = await http.patch(f"{accounts}/{account_id}/email", json={"email": address()}, headers=world.owner.auth)
    assert moved.status_code == 204, moved.text
    set_password = f"/api/v1/auth/environments/{world.environment_id}/invitations/set-password"
    assert code(await http.post(set_password, json={"token": token, "password": NEW_PASSWORD})) == INVALID
    assert (await http.get(f"{accounts}/{account_id}", headers=world.owner.auth)).json()["emailVerified"] is False


async def test_a_revoked_or_expired_invitation_is_not_even_shown(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """The page a link opens describes only a live invitation: once revoked or expired, the lookup is 400
    `invalid_token`, as accepting is."""
    world = await new_tenant(http)
    admin = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, admin)
    lookup = f"/api/v1/auth/environments/{world.environment_id}/invitations/lookup"
    revoked_email, expired_email = address(), address()
    revoked_id = (await invite(world, admin, organization_id, revoked_email)).json()["id"]
    expired_id = (await invite(world, admin, organization_id, expired_email)).json()["id"]
    revoked = link_in(await delivered(mail_app, smtp, revoked_email, ORGANIZATION))[3]
    expired = link_in(await delivered(mail_app, smtp, expired_email, ORGANIZATION))[3]
    assert (await http.post(lookup, json={"token": revoked})).status_code == 200
    url = invitations_url(world.environment_id, organization_id)
    assert (await http.delete(f"{url}/{revoked_id}", headers=admin.auth)).status_code == 204
    await expire(db, Invitation, Invitation.id == uuid.UUID(expired_id))
    for token in (revoked, expired):
        assert code(await http.post(lookup, json={"token": token})) == INVALID


async def test_an_invitation_into_an_organization_dies_with_its_inviters_authority(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """An ORG_ADMIN may invite addresses of their own into ORG_ADMIN before being demoted, removed or disabled,
    and a tenant admin before being made a user: once the inviter may no longer invite, the invitation gives
    nothing. The organization's other ORG_ADMIN's invitation stays good."""
    world = await new_tenant(http)
    founder = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, founder)
    members_of = members_url(world.environment_id, organization_id)
    base = f"/api/v1/auth/environments/{world.environment_id}/invitations"
    planted: dict[str, str] = {}
    ends = {"demoted": ("PATCH", "members", {"role": "READ_ONLY"}), "removed": ("DELETE", "members", None)}
    for fate, (method, where, body) in (ends | {"disabled": ("PATCH", "accounts", None)}).items():
        insider = await world.add_end_user(world.environment_id)
        await add_member(world, organization_id, insider, role="ORG_ADMIN")
        email = address()
        assert (await invite(world, insider, organization_id, email, "ORG_ADMIN")).status_code == 201
        planted[fate] = link_in(await delivered(mail_app, smtp, email, ORGANIZATION))[3]
        url = {
            "members": f"{members_of}/{insider.account_id}",
            "accounts": f"/api/v1/environments/{world.environment_id}/accounts/{insider.account_id}/disable",
        }[where]
        assert (await http.request(method, url, json=body, headers=world.owner.auth)).status_code == 204
    for fate, (path, body) in {
        "tenant admin made a user": ("/role", {"role": "user"}),
        "tenant admin disabled": ("/disable", None),
    }.items():
        tenant_admin = await world.add_member("admin")
        email = address()
        invited = await invite(world, founder, organization_id, email, "ORG_ADMIN", **tenant_admin.auth)
        assert invited.status_code == 201
        planted[fate] = link_in(await delivered(mail_app, smtp, email, ORGANIZATION))[3]
        url = f"{world.base}/accounts/{tenant_admin.account_id}{path}"
        assert (await http.patch(url, json=body, headers=world.owner.auth)).status_code == 204
    before = await members(world, world.environment_id, organization_id)
    for fate, token in planted.items():
        assert code(await http.post(f"{base}/lookup", json={"token": token})) == INVALID, fate
        assert code(await http.post(f"{base}/signup", json=signup_body(token))) == INVALID, fate
    assert await members(world, world.environment_id, organization_id) == before

    email = address()
    assert (await invite(world, founder, organization_id, email, "ORG_ADMIN")).status_code == 201
    token = link_in(await delivered(mail_app, smtp, email, ORGANIZATION))[3]
    joined = await http.post(f"{base}/signup", json=signup_body(token))
    assert joined.status_code == 201, joined.text
    assert (await members(world, world.environment_id, organization_id))[joined.json()["accountId"]] == "ORG_ADMIN"


@pytest.mark.parametrize("fate", ["kept", "deleted", "narrowed"])
async def test_an_automation_clients_invitation_into_an_organization_holds_while_the_client_may_invite(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession, fate: str
) -> None:
    """A tenant's automation client with `organizations:write` invites as the tenant's admins do: the link signs
    someone new up into the organization, until the client is deleted or loses that permission."""
    world = await new_tenant(http)
    admin = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, admin)
    robot = await automation(http, world, ["organizations:write"])
    email = address()
    invited = await invite(
        world, admin, organization_id, email, "ORG_USER", **bearer(await token_for(http, world, robot))
    )
    assert invited.status_code == 201, invited.text
    token = link_in(await delivered(mail_app, smtp, email, ORGANIZATION))[3]
    robot_url = f"{world.base}/clients/{robot['id']}"
    if fate == "deleted":
        assert (await http.delete(robot_url, headers=world.owner.auth)).status_code == 204
    elif fate == "narrowed":
        narrowed = await http.patch(robot_url, json={"permissions": ["organizations:read"]}, headers=world.owner.auth)
        assert narrowed.status_code == 204, narrowed.text

    base = f"/api/v1/auth/environments/{world.environment_id}/invitations"
    if fate != "kept":
        assert code(await http.post(f"{base}/lookup", json={"token": token})) == INVALID
        assert code(await http.post(f"{base}/signup", json=signup_body(token))) == INVALID
        return
    assert (await http.post(f"{base}/lookup", json={"token": token})).status_code == 200
    joined = await http.post(f"{base}/signup", json=signup_body(token))
    assert joined.status_code == 201, joined.text
    assert (await members(world, world.environment_id, organization_id))[joined.json()["accountId"]] == "ORG_USER"


async def test_invitation_emails_are_limited_per_end_user_and_per_address(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """Anyone who signs up may found an organization and invite into it, and the emails are the builder's: an end
    user sends at most 30 an hour, and one address gets at most 3 in 15 minutes from one organization, resends
    included, whoever sends them. Both stay on when per-IP limits are off (as here), and a refused one changes
    nothing: the link sent before still works."""
    world = await new_tenant(http)
    founder = await world.add_end_user(world.environment_id)
    organization_id = await organization(world, founder)
    for _ in range(30):
        assert (await invite(world, founder, organization_id, address())).status_code == 201
    refused = await invite(world, founder, organization_id, address())
    assert code(refused) == (429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    assert (await invite(world, founder, organization_id, address(), **world.owner.auth)).status_code == 201

    email = address()
    invitation_id = (await invite(world, founder, organization_id, email, **world.owner.auth)).json()["id"]
    resend = f"{invitations_url(world.environment_id, organization_id)}/{invitation_id}/resend"
    for _ in range(2):
        assert (await http.post(resend, headers=world.owner.auth)).status_code == 200
    assert code(await http.post(resend, headers=world.owner.auth)) == (429, "rate_limited")
    assert code(await invite(world, founder, organization_id, email, **world.owner.auth)) == (429, "rate_limited")
    last = link_in(await delivered(mail_app, smtp, email, ORGANIZATION, count=3))[3]
    assert len(smtp.inbox.to(email, verification=True)) == 3
    lookup = f"/api/v1/auth/environments/{world.environment_id}/invitations/lookup"
    assert (await http.post(lookup, json={"token": last})).status_code == 200


async def test_a_tenant_accounts_invitations_into_organizations_are_limited_as_its_others_are(
    http: httpx.AsyncClient,
) -> None:
    """An admin who founds organizations (and so escapes each one's per-address limit) still sends at most 100
    invitation emails an hour, the limit of every invitation a tenant account sends."""
    world = await new_tenant(http)
    founder = await world.add_end_user(world.environment_id)
    organizations = [await organization(world, founder) for _ in range(4)]
    for n in range(100):
        sent = await invite(world, founder, organizations[n % 4], address(), **world.owner.auth)
        assert sent.status_code == 201, sent.text
    refused = await invite(world, founder, organizations[0], address(), **world.owner.auth)
    assert code(refused) == (429, "rate_limited")
    admin = await world.add_member("admin")
    assert (await invite(world, founder, organizations[0], address(), **admin.auth)).status_code == 201
