"""`/auth/tenants/{tenantId}/…` and `/auth/environments/{environmentId}/…`: the same sign-in, session and
password routes for tenant accounts and for end users (plus `signup` for end users). Each is an adapter over
one use case of `sump.auth.service` or `sump.accounts.reset`.

No `from __future__ import annotations` here: the routes are built in a function, and FastAPI must see
their dependency annotations as objects, not as names it would look up in the module."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse

from sump.access.actors import EndUser, TenantActor, in_context
from sump.access.cookies import clear_session_cookie, session_token, set_session_cookie
from sump.access.dependencies import SignedInDep, credentials, end_user_session, tenant_session
from sump.access.pools import Pool
from sump.accounts import magic_links, reset, verification
from sump.accounts.pools import load_pool
from sump.accounts.schemas import (
    ChangePassword,
    FollowLink,
    ForgotPassword,
    Login,
    MagicLinkRequest,
    Message,
    ResetDone,
    ResetPassword,
    SignedUpUnverified,
    Signup,
)
from sump.auth import service
from sump.config import Settings
from sump.db.tables.sessions import AccountType
from sump.factors.schemas import (
    ChallengeView,
    ConfirmEnrolment,
    EnrolledSignIn,
    EnrolTotp,
    FactorAnswer,
    TotpSetupView,
)
from sump.kit.call import Call
from sump.kit.deps import CallDep
from sump.kit.devices import remember
from sump.kit.errors import problem_responses, unauthenticated
from sump.kit.transactions import DbSession, held_connection
from sump.sessions import service as sessions
from sump.sessions.schemas import Revoked, SessionView
from sump.sessions.schemas import SignedIn as SignedInView

SessionId = Annotated[uuid.UUID, Path(alias="sessionId")]
CHALLENGED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ChallengeView,
        "description": "A second factor (or, with `enrol`, the enrolment of one) must follow: no session yet.",
    }
}

SIGNUP_ACCEPTED = (
    "No session yet: sign-in needs a verified email (`emailVerificationRequired`), or second factors are required"
    " and the answer is the enrolment challenge (`enrol: true`) that `/login` would give."
)
UNVERIFIED_SIGNUP = "Account created: follow the link sent to your email address to verify it, then sign in."


def challenged(challenge: service.Challenge) -> JSONResponse:
    view = ChallengeView(
        challenge=challenge.token, factors=challenge.factors, enrol=challenge.enrol, expires_in=challenge.expires_in
    )
    return JSONResponse(view.model_dump(mode="json", by_alias=True), status_code=202)


def family_router(account_type: AccountType) -> APIRouter:
    tenant = account_type is AccountType.TENANT_ACCOUNT
    family, param = ("tenant", "tenantId") if tenant else ("environment", "environmentId")
    ContextId = Annotated[uuid.UUID, Path(alias=param)]
    DescribedContextId = Annotated[uuid.UUID, Path(alias=param, description=f"{family.capitalize()} id.")]
    Current = Annotated[TenantActor | EndUser, Depends(tenant_session if tenant else end_user_session)]
    router = APIRouter(
        prefix=f"/auth/{family}s/{{{param}}}",
        tags=[f"{family} sign-in"],
        responses=problem_responses(400, 401),
    )

    async def context_pool(context_id: ContextId, db: DbSession) -> Pool:
        return await load_pool(db, account_type, context_id)

    PoolDep = Annotated[Pool, Depends(context_pool)]

    def signed_in(response: Response, call: Call, done: service.SignedIn) -> SignedInView:
        set_session_cookie(response, call.settings, done.issued.token)
        remember(response, call.settings, call.client.devices, done.account.id)
        return SignedInView(
            account_id=done.account.id, session=SessionView.of(done.issued.session), token=done.issued.token
        )

    @router.post(
        "/login",
        response_model=SignedInView,
        response_model_exclude_none=True,
        responses={**problem_responses(404, 429, 503), **CHALLENGED},
    )
    async def login(
        body: Login, pool: PoolDep, request: Request, response: Response, call: CallDep
    ) -> SignedInView | JSONResponse:
        """Signs in with email, phone or username and password; sets `sump_session` and returns the session.
        Repeated failures pace and then refuse (429 with `Retry-After`) the address they come from. An account
        with a second factor (or without one where the policy requires it) gets `202` with a challenge and no
        session: `…/login/factor` (or the enrolment steps) finishes the sign-in."""
        done = await service.sign_in(call, pool, body, previous_token=session_token(request, call.settings))
        if isinstance(done, service.Challenge):
            return challenged(done)
        return signed_in(response, call, done)

    @router.post(
        "/login/factor",
        response_model=SignedInView,
        response_model_exclude_none=True,
        responses=problem_responses(403, 404, 429),
    )
    async def login_factor(
        body: FactorAnswer, pool: PoolDep, request: Request, response: Response, call: CallDep
    ) -> SignedInView:
        """The second step: the challenge of `/login` and a code of a second factor (or a recovery code).
        Answers exactly what `/login` answers for an account without a factor. 401 `invalid_challenge` for a
        challenge that is unknown, used, expired or of another pool; 401 `invalid_code` (counts toward the
        lockout, 429 while it holds); 403 `enrolment_required` for an enrolment challenge."""
        token = session_token(request, call.settings)
        done = await service.finish_sign_in(call, pool, body, previous_token=token)
        return signed_in(response, call, done)

    @router.post(
        "/login/enrol/totp",
        response_model=TotpSetupView,
        status_code=201,
        responses=problem_responses(403, 404),
    )
    async def login_enrol_totp(body: EnrolTotp, pool: PoolDep, call: CallDep) -> TotpSetupView:
        """Where second factors are required, an account without one starts enrolling TOTP with its enrolment
        challenge (`enrol: true`); the secret is shown this once. 403 `enrolment_not_required` for a sign-in
        challenge."""
        setup = await service.begin_enrolment(call, pool, body)
        return TotpSetupView(factor_id=setup.factor.id, secret=setup.secret, uri=setup.uri, qr_svg=setup.qr_svg)

    @router.post(
        "/login/enrol/totp/confirm",
        response_model=EnrolledSignIn,
        response_model_exclude_none=True,
        responses=problem_responses(403, 404, 429),
    )
    async def login_enrol_confirm(
        body: ConfirmEnrolment, pool: PoolDep, request: Request, response: Response, call: CallDep
    ) -> EnrolledSignIn:
        """The new factor's first code: it is enrolled, the challenge is used up, and the account is signed in
        as by `/login`, with its ten recovery codes (shown this once). 403 `invalid_code` (counts toward the
        lockout)."""
        token = session_token(request, call.settings)
        done = await service.finish_enrolment(call, pool, body, previous_token=token)
        view = signed_in(response, call, done)
        return EnrolledSignIn(**view.model_dump(), recovery_codes=done.recovery_codes)

    if not tenant:

        @router.post(
            "/signup",
            status_code=201,
            response_model=SignedInView,
            response_model_exclude_none=True,
            responses={
                **problem_responses(403, 404, 409, 413, 429, 503),
                202: {"model": SignedUpUnverified | ChallengeView, "description": SIGNUP_ACCEPTED},
            },
        )
        async def signup(body: Signup, pool: PoolDep, response: Response, call: CallDep) -> SignedInView | JSONResponse:
            """Creates an end user and signs them in (403 when the environment has sign-up turned off). The
            end user is emailed a link that verifies their email unless the environment turned that off.

            Two answers are 202 with no session, told apart by their fields: where sign-in needs a verified
            email, `{"accountId", "emailVerificationRequired": true, "message"}` until the link is followed (then
            sign in); else, where second factors are required, the enrolment challenge a password sign-in of the
            new account would get, `{"challenge", "factors", "enrol": true, "expiresIn"}`: `…/login/enrol/totp`
            and `…/login/enrol/totp/confirm` enrol a factor and sign in."""
            done = await service.sign_up(call, pool, body)
            if isinstance(done, service.Challenge):
                return challenged(done)
            if isinstance(done, service.Unverified):
                view = SignedUpUnverified(
                    account_id=done.account.id, email_verification_required=True, message=UNVERIFIED_SIGNUP
                )
                return JSONResponse(view.model_dump(mode="json", by_alias=True), status_code=202)
            return signed_in(response, call, done)

    if not tenant:

        @router.post("/magic-link", response_model=Message, responses=problem_responses(403, 404, 429))
        async def magic_link(body: MagicLinkRequest, pool: PoolDep, call: CallDep) -> Message:
            """Where the environment allows magic links (`magicLinksEnabled`), emails the account a single-use
            sign-in link valid 15 minutes, to the application's `/magic-link` page. The answer, its cost and its
            limits (10 a minute per address, 3 in 15 minutes per identifier) are the same whether or not the
            account exists. 403 `magic_links_disabled`."""
            await magic_links.request_link(call, pool, body)
            return Message(message=magic_links.ANSWER)

        @router.post(
            "/magic-link/sign-in",
            response_model=SignedInView,
            response_model_exclude_none=True,
            responses={**problem_responses(403, 404, 429, 503), **CHALLENGED},
        )
        async def magic_link_sign_in(
            body: FollowLink, pool: PoolDep, request: Request, response: Response, call: CallDep
        ) -> SignedInView | JSONResponse:
            """Signs in with the emailed link's token, as `/login` does with a password: the session (`amr`
            `email`), or 202 with a challenge when the account has a second factor (`…/login/factor` finishes
            it). The link proves the address, which counts as verified. 400 `invalid_token` for a token that is
            unknown, used, expired or of another environment; 403 `magic_links_disabled`."""
            token = session_token(request, call.settings)
            done = await service.sign_in_with_link(call, pool, body.token, previous_token=token)
            if isinstance(done, service.Challenge):
                return challenged(done)
            return signed_in(response, call, done)

    @router.post("/logout", status_code=204)
    async def logout(context_id: ContextId, found: SignedInDep, response: Response, call: CallDep) -> None:
        """Ends the current session of this context, if any, and clears the cookie. Always 204."""
        if found is not None and in_context(found[1], account_type, context_id):
            await service.sign_out(call, *found)
        clear_session_cookie(response, call.settings)

    @router.get("/session", response_model=SessionView, response_model_exclude_none=True)
    async def current_session(context_id: DescribedContextId, request: Request) -> Response:
        # The hottest read of an identity service, so it skips the `Current` dependency: the same resolver
        # answers with one SELECT of the session's columns on an autocommit connection (no ORM objects, no
        # session), the same token rules (bearer, else the signed cookie), the same 401 when the session is
        # not live here, and a body rendered once from the documented `SessionView`.
        settings: Settings = request.app.state.settings
        token = session_token(request, settings)
        body = None
        if token:
            async with held_connection(request) as conn:
                body = await credentials(request).session_view(conn, token, account_type, context_id)
        if body is None:
            raise unauthenticated()
        return Response(body, media_type="application/json")

    @router.get("/sessions", response_model=list[SessionView], response_model_exclude_none=True)
    async def list_sessions(actor: Current, call: CallDep) -> list[SessionView]:
        """Live sessions of the signed-in account, most recently active first; `current` marks this one."""
        live = await sessions.live_sessions(call.db, call.settings, actor.session)
        return [SessionView.of(session, current=actor.session) for session in live]

    @router.delete("/sessions/{sessionId}", status_code=204, responses=problem_responses(404))
    async def revoke_session(session_id: SessionId, actor: Current, response: Response, call: CallDep) -> None:
        """Revokes one session of the signed-in account (another account's session id answers 404)."""
        await service.revoke_session(call, actor.session, actor.account, session_id)
        if session_id == actor.session.id:
            clear_session_cookie(response, call.settings)

    @router.post("/logout-all", response_model=Revoked)
    async def logout_all(actor: Current, response: Response, call: CallDep) -> Revoked:
        """Revokes every session of the signed-in account, this one included."""
        revoked = await service.revoke_all_sessions(call, actor.session, actor.account, keep_this=False)
        clear_session_cookie(response, call.settings)
        return Revoked(revoked=revoked)

    @router.post("/forgot-password", response_model=Message, responses=problem_responses(404, 429))
    async def forgot_password(body: ForgotPassword, pool: PoolDep, call: CallDep) -> Message:
        """Emails a reset link if such an account exists. The answer is the same either way."""
        await reset.request_reset(call, pool, body)
        return Message(message=reset.FORGOT_ANSWER)

    @router.post("/reset-password", response_model=ResetDone, responses=problem_responses(404, 429, 503))
    async def reset_password(body: ResetPassword, pool: PoolDep, call: CallDep) -> ResetDone:
        """Sets a new password with the emailed token (single use, one hour); signs out every session."""
        await service.reset_password(call, pool, body)
        return ResetDone(success=True, message=reset.RESET_ANSWER)

    @router.post("/verify-email", response_model=Message, responses=problem_responses(404, 409, 429))
    async def verify_email(body: FollowLink, pool: PoolDep, call: CallDep) -> Message:
        """Follows an emailed verification link (single use, 24 hours): the email is verified, or, for an email
        change, the new address becomes the account's email. 400 `invalid_token` for a token that is unknown,
        used, expired or of another pool."""
        await verification.verify(call, pool, body.token)
        return Message(message=verification.VERIFIED_ANSWER)

    @router.post("/verify-email/resend", status_code=202, response_model=Message, responses=problem_responses(409, 429))
    async def resend_verification(actor: Current, pool: PoolDep, call: CallDep) -> Message:
        """Emails the signed-in account a new verification link (the one sent before stops working): at most
        3 an hour per account and 10 a minute per address (429). 409 `email_already_verified`."""
        await verification.resend(call, pool, actor.account)
        return Message(message=verification.RESEND_ANSWER)

    @router.post("/cancel-email-change", response_model=Message, responses=problem_responses(404, 409, 429))
    async def cancel_email_change(body: FollowLink, pool: PoolDep, call: CallDep) -> Message:
        """Follows the link sent to the old address of an email change (single use, 24 hours): a change not yet
        confirmed dies, one already made is undone and every session of the account ends."""
        await verification.cancel_change(call, pool, body.token)
        return Message(message=verification.CANCELLED_ANSWER)

    @router.post("/change-password", status_code=204, responses=problem_responses(403, 429, 503))
    async def change_password(body: ChangePassword, actor: Current, pool: PoolDep, call: CallDep) -> None:
        """Changes the signed-in account's password (the current one is required, and counts toward the
        sign-in limits); other sessions end."""
        await service.change_password(call, pool, actor.session, actor.account, body)

    return router


tenant_router = family_router(AccountType.TENANT_ACCOUNT)
environment_router = family_router(AccountType.ENVIRONMENT_ACCOUNT)
