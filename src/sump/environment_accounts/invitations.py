"""End users made without a password get an invitation to set one: the tenant's owners and admins send it; the
emailed link (the builder's application's `/set-password` page, valid 7 days, single use) sets the password and
verifies the email. Resending revokes the invitation sent before."""

from __future__ import annotations

import uuid

from limits import parse

from sump.access.actors import EnvironmentActor
from sump.access.policy import require
from sump.access.pools import Pool
from sump.accounts import links
from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.links import Invitation, InvitationKind
from sump.environment_accounts import policy, repository
from sump.environment_accounts.service import get
from sump.environments import service as environments
from sump.invitations import service as invitations
from sump.kit import audit
from sump.kit.audit import ref
from sump.kit.call import Call
from sump.kit.email.outbox import enqueue_email
from sump.kit.errors import Problem

KIND = InvitationKind.END_USER
SET_PER_IP = parse("10/minute")


def password_already_set() -> Problem:
    return Problem(409, "password_already_set", "This end user has a password: send a password reset instead.")


async def invite(call: Call, actor: EnvironmentActor, account_id: uuid.UUID) -> Invitation:
    """Emails an end user without a password an invitation to set one (owners and admins). 409
    `password_already_set` once they have one."""
    require(policy.manage(actor))
    account = await get(call.db, actor, account_id, write=True)
    if account.password_hash is not None:
        raise password_already_set()
    await invitations.within_sending_limits(call.limiter, actor.environment.id, account.email, actor.account.id)
    issued = await invitations.issue(
        call.db,
        KIND,
        tenant_id=actor.environment.tenant_id,
        email=account.email,
        role=None,
        invited_by=actor.account.id,
        environment_id=actor.environment.id,
        environment_account_id=account.id,
    )
    link = links.page_link(call.settings, environments.pool(actor.environment), "set-password", issued.token)
    await enqueue_email(
        call.db, "end_user_invitation", account.email, name=account.name, link=link, days=invitations.DAYS
    )
    await audit.record(
        call.db,
        "end_user.invited",
        tenant_id=actor.environment.tenant_id,
        environment_id=actor.environment.id,
        actor=ref(actor.account),
        target=ref(account),
        details={"invitation": str(issued.invitation.id)},
    )
    return issued.invitation


async def set_password(call: Call, pool: Pool, token: str, password: str) -> EnvironmentAccount:
    """Follows an end user's invitation: sets their first password and verifies their email. 400
    `invalid_token` for a token that is unknown, used, revoked, expired or of another environment (and once
    the account has a password some other way)."""
    assert pool.environment_id is not None
    await call.limiter.hit(SET_PER_IP, "end-user-invitation", call.client.ip)
    try:
        invitation = await invitations.open_invitation(call.db, pool.tenant_id, pool.environment_id, token, KIND)
        account_id = invitation.environment_account_id
        account = await repository.get(call.db, pool.environment_id, account_id) if account_id else None
        if (
            account is None
            or account.disabled
            or account.password_hash is not None
            or account.email != invitation.email
        ):
            raise invitations.invalid_invitation()
        pool.policy.check(password, email=account.email, username=account.username)
        async with call.hasher.slot():
            account.password_hash = await call.hasher.hash(password)
        account.password_changed_at = utcnow()
        account.email_verified = True
        await invitations.close(call.db, invitation, account.id)
    except Problem as problem:
        audit.record_failure(
            call, "end_user.invitation_failed", problem, tenant_id=pool.tenant_id, environment_id=pool.environment_id
        )
        raise
    who = ref(account)
    await audit.record(
        call.db,
        "end_user.invitation_accepted",
        tenant_id=pool.tenant_id,
        environment_id=pool.environment_id,
        actor=who,
        target=who,
        details={"invitation": str(invitation.id)},
    )
    return account
