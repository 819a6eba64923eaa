"""`/auth/environments/{environmentId}/invitations/…`: following an emailed invitation. An organization's
invitation is accepted by the signed-in end user it was sent to (`accept`) or by someone new who signs up
through it (`signup`); an end user made without a password sets one (`set-password`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from fastapi.responses import JSONResponse
from limits import parse

from sump.access.actors import EndUser
from sump.access.cookies import set_session_cookie
from sump.access.dependencies import end_user_session
from sump.access.pools import Pool
from sump.accounts.pools import load_pool
from sump.accounts.schemas import Message
from sump.auth import invitations as invited
from sump.auth.routes import challenged
from sump.auth.service import Challenge
from sump.db.tables.sessions import AccountType
from sump.environment_accounts import invitations as end_user_invitations
from sump.environment_accounts.schemas import SetFirstPassword
from sump.environments import service as environments
from sump.factors.schemas import ChallengeView
from sump.invitations.schemas import InvitationDetails, LookUpInvitation
from sump.kit.deps import CallDep
from sump.kit.devices import remember
from sump.kit.errors import problem_responses
from sump.kit.transactions import DbSession
from sump.organizations.schemas import AcceptOrganizationInvitation, InvitedSignup, Joined
from sump.organizations.service import invitations
from sump.sessions.schemas import SessionView
from sump.sessions.schemas import SignedIn as SignedInView

router = APIRouter(
    prefix="/auth/environments/{environmentId}/invitations",
    tags=["environment sign-in"],
    responses=problem_responses(400, 404),
)
EnvironmentId = Annotated[uuid.UUID, Path(alias="environmentId")]
LOOKUP_PER_IP = parse("30/minute")
CHOSEN = "Your password is set: sign in with it."
ENROL_FIRST = "Second factors are required here: the enrolment challenge (`enrol: true`), and no session yet."


async def environment_pool(environment_id: EnvironmentId, db: DbSession) -> Pool:
    return await load_pool(db, AccountType.ENVIRONMENT_ACCOUNT, environment_id)


PoolDep = Annotated[Pool, Depends(environment_pool)]


@router.post("/lookup", response_model=InvitationDetails, response_model_exclude_none=True)
async def look_up(body: LookUpInvitation, pool: PoolDep, call: CallDep) -> InvitationDetails:
    """What an invitation is (into an organization, with its name and role, or an end user's to choose a
    password), for the page its link opens, without using it. 400 `invalid_token`."""
    await call.limiter.hit(LOOKUP_PER_IP, "environment-invitation-lookup", call.client.ip)
    invitation, organization_name = await invitations.describe(call.db, pool, body.token)
    return InvitationDetails(
        kind=invitation.kind.value,
        email=invitation.email,
        role=invitation.role,
        organization_id=invitation.organization_id,
        organization_name=organization_name,
        expires_at=invitation.expires_at,
    )


@router.post("/accept", response_model=Joined, responses=problem_responses(401, 403, 409))
async def accept(
    environment_id: EnvironmentId,
    body: AcceptOrganizationInvitation,
    end_user: Annotated[EndUser, Depends(end_user_session)],
    call: CallDep,
) -> Joined:
    """The signed-in end user accepts an organization's invitation sent to their own email address, and joins
    with its role (their email is verified by it). 403 `invitation_email_mismatch` for an invitation sent to
    another address; 409 `already_member`; 400 `invalid_token`."""
    environment = await environments.named(call.db, environment_id)
    membership = await invitations.accept(call, environment, end_user, body.token)
    return Joined(organization_id=membership.organization_id, role=membership.role)


@router.post(
    "/signup",
    status_code=201,
    response_model=SignedInView,
    response_model_exclude_none=True,
    responses={
        **problem_responses(409, 429, 503),
        202: {"model": ChallengeView, "description": ENROL_FIRST},
    },
)
async def signup(body: InvitedSignup, pool: PoolDep, response: Response, call: CallDep) -> SignedInView | JSONResponse:
    """Someone new to the environment signs up through an organization's invitation: the end user is made with
    the invited address (verified), joins with the invitation's role, and is signed in. Where second factors
    are required, 202 with the enrolment challenge (`enrol: true`) and no session, as `/login` answers there:
    `…/login/enrol/totp` and `…/login/enrol/totp/confirm` enrol a factor and sign in. 409 `identifier_taken`
    when the address already has an end user: they sign in and `accept` instead."""
    done = await invited.sign_up(call, pool, body)
    if isinstance(done, Challenge):
        return challenged(done)
    set_session_cookie(response, call.settings, done.issued.token)
    remember(response, call.settings, call.client.devices, done.account.id)
    return SignedInView(
        account_id=done.account.id, session=SessionView.of(done.issued.session), token=done.issued.token
    )


@router.post("/set-password", response_model=Message, responses=problem_responses(429, 503))
async def set_password(body: SetFirstPassword, pool: PoolDep, call: CallDep) -> Message:
    """An end user made without a password follows their invitation (single use, 7 days): the password is set
    and the email verified; then they sign in as usual. 400 `invalid_token`."""
    await end_user_invitations.set_password(call, pool, body.token, body.password)
    return Message(message=CHOSEN)
