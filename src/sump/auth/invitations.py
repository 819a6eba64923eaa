"""Signing up through an organization's invitation: someone new to the environment creates their end user with
the invited address (verified by following the link), joins the organization with the invitation's role, and
is signed in, as a sign-up would (even where the environment turned self sign-up off: they were invited). Where
second factors are required, the sign-up ends as a self sign-up does there: with the enrolment challenge, and
the session once a factor is enrolled (the membership and the verified email are made either way)."""

from __future__ import annotations

from limits import parse

from sump.access.pools import Pool
from sump.accounts.schemas import Signup
from sump.auth.service import Challenge, SignedIn
from sump.environment_accounts import service as end_users
from sump.factors import kinds
from sump.factors import service as factors
from sump.kit import audit
from sump.kit.audit import ref
from sump.kit.call import Call
from sump.kit.errors import Problem
from sump.organizations.schemas import InvitedSignup
from sump.organizations.service import invitations
from sump.sessions import service as sessions

SIGNUP_PER_IP = parse("10/minute")


async def sign_up(call: Call, pool: Pool, body: InvitedSignup, *, channel: str = "api") -> SignedIn | Challenge:
    """400 `invalid_token`; 409 `identifier_taken` when the address (or username) already has an end user here:
    that end user signs in and accepts from their account instead. The enrolment challenge instead of the
    session where second factors are required."""
    await call.limiter.hit(SIGNUP_PER_IP, "environment-signup", call.client.ip)
    try:
        invitation = await invitations.open_invitation(call.db, pool, body.token)
        details = body.model_dump(exclude={"token"}, exclude_none=True)
        signup = Signup.model_validate({**details, "email": invitation.email})
        async with call.hasher.slot():
            account = await end_users.new_account(call.db, call.hasher, pool, signup)
        await invitations.join(call.db, invitation, account)
    except Problem as problem:
        audit.record_failure(
            call, "signup.failed", problem, tenant_id=pool.tenant_id, environment_id=pool.environment_id
        )
        raise
    challenge = await factors.next_step(call, pool, account, methods=[kinds.PASSWORD_AMR], channel=channel)
    recorded: dict[str, object] = {"invitation": str(invitation.id)}
    if challenge is not None:
        recorded["enrolment_required"] = True
    who = ref(account)
    await audit.record(
        call.db,
        "signup",
        tenant_id=pool.tenant_id,
        environment_id=pool.environment_id,
        actor=who,
        target=who,
        details=recorded,
    )
    if challenge is not None:
        return challenge
    issued = await sessions.issue(call.db, call.settings, account, call.client)
    return SignedIn(account, issued)
