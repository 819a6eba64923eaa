"""Invitations of tenant accounts through the API: the role rules, the emailed link (single use with one winner,
7 days, bound to its tenant, stored as a digest, killed by a resend or a revocation), accepting it, and the
accounts invited the old way (no password yet) completed by a real invitation. Emails are read from a real
SMTP server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.links import Invitation
from sump.db.tables.tenant_accounts import TenantAccount
from sump.kit.crypto import token_digest
from tests.links.conftest import delivered, events, link_in
from tests.mail import SmtpServer
from tests.support import PASSWORD, TenantWorld, new_tenant

SUBJECT = "You are invited to join a tenant"
NEW_PASSWORD = "the invitee's own passphrase"
INVALID = (400, "invalid_token")


def code(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("code")


async def invite(
    world: TenantWorld, email: str, role: str = "user", by: dict[str, str] | None = None
) -> httpx.Response:
    return await world.http.post(
        f"{world.base}/invitations", json={"email": email, "role": role}, headers=by or world.owner.auth
    )


async def accept(world: TenantWorld, token: str, username: str | None = None) -> httpx.Response:
    name = username or f"inv_{uuid.uuid4().hex[:8]}"
    body = {"token": token, "name": "Invited Person", "username": name, "password": NEW_PASSWORD}
    return await world.http.post(f"/api/v1/auth/tenants/{world.tenant_id}/invitations/accept", json=body)


def address() -> str:
    return f"invitee-{uuid.uuid4().hex[:8]}@example.com"


async def test_an_invitation_creates_the_account_with_its_role(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    email = address()
    invited = await invite(world, email, "admin")
    assert invited.status_code == 201, invited.text
    view = invited.json()
    assert (view["email"], view["role"], view["status"]) == (email, "admin", "pending")
    assert "token" not in view

    message = await delivered(mail_app, smtp, email, SUBJECT)
    assert message.get_body(("html",)) is not None
    page, family, context, token = link_in(message)
    assert (page, family, context) == ("accept-invitation", "tenant", world.tenant_id)
    stored = await db.scalar(select(Invitation).where(Invitation.token_hash == token_digest(token)))
    assert stored is not None, "stored as its digest"
    assert stored.expires_at - stored.created_at == timedelta(days=7)
    listed = await http.get(f"{world.base}/invitations", headers=world.owner.auth)
    assert [row["id"] for row in listed.json()] == [view["id"]]

    lookup = f"/api/v1/auth/tenants/{world.tenant_id}/invitations/lookup"
    described = await http.post(lookup, json={"token": token})
    assert described.status_code == 200, described.text
    assert {key: described.json()[key] for key in ("kind", "email", "role")} == {
        "kind": "tenant_account",
        "email": email,
        "role": "admin",
    }
    accepted = await accept(world, token, "new_admin")
    assert accepted.status_code == 201, accepted.text
    assert code(await http.post(lookup, json={"token": token})) == INVALID
    account_id = accepted.json()["id"]
    login = await http.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"email": email, "password": NEW_PASSWORD}
    )
    assert login.status_code == 200
    account = (await http.get(f"{world.base}/accounts/{account_id}", headers=world.owner.auth)).json()
    assert (account["role"], account["emailVerified"], account["username"]) == ("admin", True, "new_admin")
    assert code(await accept(world, token)) == INVALID
    assert (await http.get(f"{world.base}/invitations", headers=world.owner.auth)).json() == []
    assert await events(db, "tenant_account.invited", tenant_id=world.tenant_id)
    [event] = await events(db, "tenant_account.invitation_accepted", target_id=account_id)
    assert token not in str(event.details)


async def test_role_rules_hold_for_invitations(http: httpx.AsyncClient, mail_app: FastAPI) -> None:
    world = await new_tenant(http)
    admin = await world.add_member("admin")
    user = await world.add_member("user")
    assert code(await invite(world, address(), "admin", by=admin.auth)) == (403, "role_not_grantable")
    assert code(await invite(world, address(), "owner", by=admin.auth)) == (403, "role_not_grantable")
    assert (await invite(world, address(), "user", by=user.auth)).status_code == 403
    assert (await invite(world, address(), "user", by=admin.auth)).status_code == 201
    by_owner = (await invite(world, address(), "admin")).json()["id"]
    # An admin may not resend nor revoke an invitation into a role above what they grant.
    resend = await http.post(f"{world.base}/invitations/{by_owner}/resend", headers=admin.auth)
    revoke = await http.delete(f"{world.base}/invitations/{by_owner}", headers=admin.auth)
    assert code(resend) == code(revoke) == (403, "role_not_grantable")
    assert (await http.get(f"{world.base}/invitations", headers=user.auth)).status_code == 403
    taken = await invite(world, user.email)
    assert code(taken) == (409, "identifier_taken")
    extra = await http.post(
        f"{world.base}/invitations", json={"email": address(), "role": "user", "admin": True}, headers=world.owner.auth
    )
    assert extra.status_code == 400
    assert extra.json()["errors"] == {"admin": "This field is not allowed."}


async def test_a_resend_kills_the_earlier_link(http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer) -> None:
    world = await new_tenant(http)
    email = address()
    invitation_id = (await invite(world, email)).json()["id"]
    first = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
    resent = await http.post(f"{world.base}/invitations/{invitation_id}/resend", headers=world.owner.auth)
    assert resent.status_code == 200, resent.text
    second = link_in(await delivered(mail_app, smtp, email, SUBJECT, count=2))[3]
    assert first != second
    assert code(await accept(world, first)) == INVALID
    assert (await accept(world, second)).status_code == 201
    again = await http.post(f"{world.base}/invitations/{invitation_id}/resend", headers=world.owner.auth)
    assert code(again) == (409, "invitation_not_pending")


async def test_a_revoked_invitation_cannot_be_accepted(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    email = address()
    invitation_id = (await invite(world, email)).json()["id"]
    token = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
    assert (await http.delete(f"{world.base}/invitations/{invitation_id}", headers=world.owner.auth)).status_code == 204
    assert code(await accept(world, token)) == INVALID
    again = await http.delete(f"{world.base}/invitations/{invitation_id}", headers=world.owner.auth)
    assert code(again) == (409, "invitation_not_pending")
    assert await events(db, "tenant_account.invitation_revoked", tenant_id=world.tenant_id)
    count = await db.scalar(select(func.count()).select_from(TenantAccount).where(TenantAccount.email == email))
    assert count == 0


async def test_an_expired_invitation_is_refused_until_resent(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    email = address()
    invitation_id = (await invite(world, email)).json()["id"]
    token = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
    await db.execute(
        update(Invitation)
        .where(Invitation.id == uuid.UUID(invitation_id))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    assert code(await accept(world, token)) == INVALID
    [listed] = (await http.get(f"{world.base}/invitations", headers=world.owner.auth)).json()
    assert listed["status"] == "expired"
    assert (
        await http.post(f"{world.base}/invitations/{invitation_id}/resend", headers=world.owner.auth)
    ).status_code == 200
    renewed = link_in(await delivered(mail_app, smtp, email, SUBJECT, count=2))[3]
    assert (await accept(world, renewed)).status_code == 201


async def test_an_invitation_works_only_in_its_own_tenant(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    other = await new_tenant(http)
    email = address()
    await invite(world, email)
    token = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
    assert code(await accept(other, token)) == INVALID
    body = {"token": token, "name": "Wrong Place", "username": "wrong_place", "password": NEW_PASSWORD}
    unknown_tenant = await http.post(f"/api/v1/auth/tenants/{uuid.uuid4()}/invitations/accept", json=body)
    assert unknown_tenant.status_code == 404
    assert (await accept(world, token)).status_code == 201


async def test_concurrent_acceptances_have_one_winner(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    email = address()
    await invite(world, email)
    token = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
    answers = await asyncio.gather(*(accept(world, token, f"racer_{n}_{uuid.uuid4().hex[:4]}") for n in range(6)))
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(201) == 1, [answer.text for answer in answers]
    losers = {code(answer) for answer in answers if answer.status_code != 201}
    assert losers <= {INVALID, (409, "conflict"), (409, "identifier_taken"), (503, "overloaded")}, losers
    count = await db.scalar(select(func.count()).select_from(TenantAccount).where(TenantAccount.email == email))
    assert count == 1


async def _invited_the_old_way(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, role: str = "user"
) -> tuple[TenantWorld, str, str, str]:
    """A new tenant with an account made without a password (the old way of inviting), then sent a real
    invitation into `role`: (the tenant, the address, the account's id, the invitation's token)."""
    world = await new_tenant(http)
    email, account_id = await _made_the_old_way(world)
    assert (await invite(world, email, role=role)).status_code == 201
    return world, email, account_id, link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]


async def _made_the_old_way(world: TenantWorld, role: str = "user") -> tuple[str, str]:
    """An account of `world` made without a password, in `role`: (its address, its id)."""
    email = address()
    made = await world.http.post(
        f"{world.base}/accounts",
        json={
            "name": "Old Style",
            "email": email,
            "username": f"old_{uuid.uuid4().hex[:6]}",
            "roles": [{"role": role, "target": "tenant", "targetId": world.tenant_id}],
        },
        headers=world.owner.auth,
    )
    assert made.status_code == 201, made.text
    return email, made.json()["id"]


async def test_an_account_invited_the_old_way_is_completed_by_a_real_invitation(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world, email, account_id, token = await _invited_the_old_way(http, mail_app, smtp)
    base = f"/api/v1/auth/tenants/{world.tenant_id}/invitations/accept"
    weak = await http.post(
        base, json={"token": token, "name": "Old Style", "username": "old_style_now", "password": "password"}
    )
    assert code(weak) == (400, "password_too_common"), "completing an account checks the password as creating one"
    accepted = await accept(world, token, "old_style_now")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["id"] == account_id, "the same account, completed"
    login = await http.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"username": "old_style_now", "password": NEW_PASSWORD}
    )
    assert login.status_code == 200
    # With a password now, it is an account like any other: inviting its address again is refused.
    assert code(await invite(world, email)) == (409, "identifier_taken")


async def test_an_account_invited_the_old_way_and_disabled_since_is_not_completed(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """A real invitation sent before its account was disabled completes nothing: the account gets no password,
    name or role from it, and the link answers as for an address already held."""
    world, _, account_id, token = await _invited_the_old_way(http, mail_app, smtp, role="admin")
    disabled = await http.patch(f"{world.base}/accounts/{account_id}/disable", headers=world.owner.auth)
    assert disabled.status_code == 204

    accepted = await accept(world, token, "old_style_now")
    assert code(accepted) == (409, "identifier_taken")
    account = await db.scalar(select(TenantAccount).where(TenantAccount.id == uuid.UUID(account_id)))
    assert account is not None
    assert (account.password_hash, account.username == "old_style_now", account.role) == (None, False, "user")
    assert account.disabled
    login = await http.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"username": "old_style_now", "password": NEW_PASSWORD}
    )
    assert code(login) == (401, "invalid_credentials")


async def test_accepting_checks_the_password_and_the_username(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    world = await new_tenant(http)
    email = address()
    await invite(world, email)
    token = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
    base = f"/api/v1/auth/tenants/{world.tenant_id}/invitations/accept"
    weak = await http.post(
        base, json={"token": token, "name": "Weak One", "username": "weak_one", "password": "password"}
    )
    assert code(weak) == (400, "password_too_common")
    taken = await http.post(
        base, json={"token": token, "name": "Taken", "username": world.owner.username, "password": PASSWORD}
    )
    assert code(taken) == (409, "identifier_taken")
    assert (await accept(world, token)).status_code == 201, "a refused attempt leaves the invitation usable"


async def test_an_invitation_reaches_no_further_than_its_inviters_rank(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """Inviting an address replaces its pending invitation, and completes an account invited the old way with
    the new role: an admin may do either only where it could revoke that invitation or change that role."""
    world = await new_tenant(http)
    admin = await world.add_member("admin")
    owner_email, owner_id = await _made_the_old_way(world, "owner")
    assert code(await invite(world, owner_email, "user", by=admin.auth)) == (403, "insufficient_role")
    second_owner = await db.scalar(select(TenantAccount).where(TenantAccount.id == uuid.UUID(owner_id)))
    assert second_owner is not None
    assert second_owner.role == "owner"

    email = address()
    assert (await invite(world, email, "admin")).status_code == 201
    owners_link = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
    assert code(await invite(world, email, "user", by=admin.auth)) == (403, "role_not_grantable")
    accepted = await accept(world, owners_link)
    assert accepted.status_code == 201, "the owner's invitation is still alive"
    made_admin = await http.get(f"{world.base}/accounts/{accepted.json()['id']}", headers=world.owner.auth)
    assert made_admin.json()["role"] == "admin"

    # Within its rank an admin still replaces an invitation and completes an account invited the old way.
    within = address()
    assert (await invite(world, within, "user")).status_code == 201
    assert (await invite(world, within, "user", by=admin.auth)).status_code == 201
    old_way, _ = await _made_the_old_way(world)
    assert (await invite(world, old_way, "user", by=admin.auth)).status_code == 201


async def test_an_invitation_dies_with_its_inviters_authority(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    """An owner may plant invitations into owner for addresses of their own before being demoted, disabled or
    removed: once their authority is gone, so is what the invitations would give. An inviter whose rank only
    grew keeps them alive."""
    world = await new_tenant(http)
    lookup = f"/api/v1/auth/tenants/{world.tenant_id}/invitations/lookup"
    planted: dict[str, str] = {}
    addresses = []
    ends = {"demoted": ("PATCH", "/role", {"role": "user"}), "disabled": ("PATCH", "/disable", None)}
    for fate, (method, path, body) in (ends | {"deleted": ("DELETE", "", None)}).items():
        inviter = await world.add_member("owner")
        email = address()
        addresses.append(email)
        assert (await invite(world, email, "owner", by=inviter.auth)).status_code == 201
        planted[fate] = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
        url = f"{world.base}/accounts/{inviter.account_id}"
        assert (await http.request(method, f"{url}{path}", json=body, headers=world.owner.auth)).status_code == 204
    for fate, token in planted.items():
        assert code(await http.post(lookup, json={"token": token})) == INVALID, fate
        assert code(await accept(world, token)) == INVALID, fate
    made = await db.scalar(select(func.count()).select_from(TenantAccount).where(TenantAccount.email.in_(addresses)))
    assert made == 0, "no account was made"

    promoted = await world.add_member("admin")
    email = address()
    assert (await invite(world, email, "user", by=promoted.auth)).status_code == 201
    token = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
    raised = await http.patch(
        f"{world.base}/accounts/{promoted.account_id}/role", json={"role": "owner"}, headers=world.owner.auth
    )
    assert raised.status_code == 204
    assert (await accept(world, token)).status_code == 201


async def test_a_resend_makes_its_sender_the_inviter(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """An invitation whose inviter lost the authority to grant its role is dead; an owner who resends it gives it
    their own, so the new link works (before, the resend answered 200 and mailed a link that could never be
    followed)."""
    world = await new_tenant(http)
    admin = await world.add_member("admin")
    email = address()
    invitation_id = (await invite(world, email, "user", by=admin.auth)).json()["id"]
    lookup = f"/api/v1/auth/tenants/{world.tenant_id}/invitations/lookup"
    first = link_in(await delivered(mail_app, smtp, email, SUBJECT))[3]
    demoted = await http.patch(
        f"{world.base}/accounts/{admin.account_id}/role", json={"role": "user"}, headers=world.owner.auth
    )
    assert demoted.status_code == 204
    assert code(await http.post(lookup, json={"token": first})) == INVALID

    resent = await http.post(f"{world.base}/invitations/{invitation_id}/resend", headers=world.owner.auth)
    assert resent.status_code == 200, resent.text
    second = link_in(await delivered(mail_app, smtp, email, SUBJECT, count=2))[3]
    assert (await http.post(lookup, json={"token": second})).status_code == 200
    assert (await accept(world, second)).status_code == 201


async def test_invitation_emails_are_limited_per_address_and_per_sender(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer
) -> None:
    """An invitation is an email in Sump's name to an address of the sender's choosing: one address gets at most
    3 in 15 minutes from one tenant, resends included, whoever sends them, and one account sends at most 100 an
    hour. Both stay on when per-address limits are off (as here); a refused one changes nothing, so the link sent
    before still works."""
    world = await new_tenant(http)
    admin = await world.add_member("admin")
    email = address()
    invitation_id = (await invite(world, email)).json()["id"]
    resend = f"{world.base}/invitations/{invitation_id}/resend"
    assert (await http.post(resend, headers=world.owner.auth)).status_code == 200
    assert (await http.post(resend, headers=admin.auth)).status_code == 200
    refused = await http.post(resend, headers=world.owner.auth)
    assert code(refused) == (429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    assert code(await invite(world, email, by=admin.auth)) == (429, "rate_limited")
    last = link_in(await delivered(mail_app, smtp, email, SUBJECT, count=3))[3]
    assert len(smtp.inbox.to(email)) == 3
    assert (await accept(world, last)).status_code == 201

    for _ in range(97):  # three of the owner's sends are counted above, the refused resend among them
        assert (await invite(world, address())).status_code == 201
    assert code(await invite(world, address())) == (429, "rate_limited")
    assert (await invite(world, address(), by=admin.auth)).status_code == 201
