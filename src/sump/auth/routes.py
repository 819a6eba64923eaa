"""`/auth/tenants/{tenantId}/…` and `/auth/environments/{environmentId}/…`: the same sign-in, session and
password routes for tenant accounts and for end users (plus `signup` for end users).

No `from __future__ import annotations` here: the routes are built in a function, and FastAPI must see
their dependency annotations as objects, not as names it would look up in the module."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from limits import parse

from sump.audit import service as audit
from sump.audit.service import Ref, ref
from sump.auth import service
from sump.auth.cookies import clear_session_cookie, session_token, set_session_cookie
from sump.auth.dependencies import EndUser, SignedIn, TenantActor, end_user_session, tenant_session
from sump.auth.pools import Pool, load_pool
from sump.auth.schemas import ChangePassword, ForgotPassword, Login, Message, ResetDone, ResetPassword, Signup
from sump.config import Settings
from sump.db.deps import DbSession, read_engine
from sump.environment_accounts.models import EnvironmentAccount
from sump.kit.deps import ClientDep, HasherDep, HashSlot, LimiterDep, LockoutDep, SettingsDep
from sump.kit.errors import Problem, not_found, problem_responses, unauthenticated
from sump.kit.ratelimit import per_ip
from sump.sessions import service as sessions
from sump.sessions.models import AccountType
from sump.sessions.repository import Account
from sump.sessions.schemas import Revoked, SessionView
from sump.sessions.schemas import SignedIn as SignedInView
from sump.tenant_accounts.models import TenantAccount

FORGOT_PER_IDENTIFIER = parse("3/15minutes")
LOGIN_PER_IP = "30/minute"
FORGOT_PER_IP = RESET_PER_IP = "10/minute"
SessionId = Annotated[uuid.UUID, Path(alias="sessionId")]


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

    def in_context(found: SignedIn, context_id: uuid.UUID) -> bool:
        if found is None:
            return False
        account = found[1]
        if tenant:
            return isinstance(account, TenantAccount) and account.tenant_id == context_id
        return isinstance(account, EnvironmentAccount) and account.environment_id == context_id

    async def audited(db: DbSession, pool: Pool, action: str, account: Account | None = None, **details: Any) -> None:
        await audit.record(
            db,
            action,
            tenant_id=pool.tenant_id,
            environment_id=pool.environment_id,
            actor=ref(account) if account else None,
            target=ref(account) if account else None,
            details=details,
        )

    def signed_in(
        response: Response, settings: SettingsDep, account_id: uuid.UUID, issued: sessions.Issued
    ) -> SignedInView:
        set_session_cookie(response, settings, issued.token)
        return SignedInView(account_id=account_id, session=SessionView.of(issued.session), token=issued.token)

    @router.post(
        "/login",
        response_model=SignedInView,
        response_model_exclude_none=True,
        dependencies=[Depends(per_ip(f"{family}-login", LOGIN_PER_IP)), HashSlot],
        responses=problem_responses(404, 429, 503),
    )
    async def login(
        body: Login,
        pool: PoolDep,
        request: Request,
        response: Response,
        db: DbSession,
        hasher: HasherDep,
        lockout: LockoutDep,
        settings: SettingsDep,
        client: ClientDep,
    ) -> SignedInView:
        """Signs in with email, phone or username and password; sets `sump_session` and returns the session."""
        previous = session_token(request, settings)
        kind, value = body.chosen()
        try:
            account, issued = await service.login(db, hasher, lockout, settings, pool, body, client)
        except Problem as problem:
            audit.record_failure(
                request,
                "login.failed",
                problem,
                tenant_id=pool.tenant_id,
                environment_id=pool.environment_id,
                identifier_kind=kind,
                identifier=value,
            )
            raise
        if previous:
            await sessions.revoke_token(db, previous)
        await audited(db, pool, "login.succeeded", account, identifier_kind=kind)
        return signed_in(response, settings, account.id, issued)

    if not tenant:

        @router.post(
            "/signup",
            status_code=201,
            response_model=SignedInView,
            response_model_exclude_none=True,
            dependencies=[Depends(per_ip("environment-signup", "10/minute")), HashSlot],
            responses=problem_responses(403, 404, 409, 413, 429, 503),
        )
        async def signup(
            body: Signup,
            pool: PoolDep,
            response: Response,
            db: DbSession,
            hasher: HasherDep,
            settings: SettingsDep,
            client: ClientDep,
        ) -> SignedInView:
            """Creates an end user and signs them in (403 when the environment has sign-up turned off)."""
            account, issued = await service.signup(db, hasher, settings, pool, body, client)
            await audited(db, pool, "signup", account)
            return signed_in(response, settings, account.id, issued)

    @router.post("/logout", status_code=204)
    async def logout(
        context_id: ContextId,
        found: SignedIn,
        request: Request,
        response: Response,
        db: DbSession,
        settings: SettingsDep,
    ) -> None:
        """Ends the current session of this context, if any, and clears the cookie. Always 204."""
        token = session_token(request, settings)
        if token and found is not None and in_context(found, context_id):
            await sessions.revoke_token(db, token)
            account = found[1]
            await audit.record(
                db,
                "logout",
                tenant_id=account.tenant_id,
                environment_id=found[0].environment_id,
                actor=ref(account),
                target=ref(account),
            )
        clear_session_cookie(response, settings)

    @router.get("/session", response_model=SessionView, response_model_exclude_none=True)
    async def current_session(context_id: DescribedContextId, request: Request) -> Response:
        # The hottest read of an identity service, so it skips the `Current` dependency: one SELECT of the
        # session's columns on an autocommit connection (no ORM objects, no session), the same token rules
        # (bearer, else the signed cookie) and the same 401 when the session is not live here, and a body
        # rendered once from the documented `SessionView`.
        settings: Settings = request.app.state.settings
        token = session_token(request, settings)
        view = None
        if token:
            async with read_engine(request).connect() as conn:
                view = await sessions.current_view(conn, settings, token, account_type, context_id)
        if view is None:
            raise unauthenticated()
        return Response(view.body(), media_type="application/json")

    @router.get("/sessions", response_model=list[SessionView], response_model_exclude_none=True)
    async def list_sessions(actor: Current, db: DbSession, settings: SettingsDep) -> list[SessionView]:
        """Live sessions of the signed-in account, most recently active first; `current` marks this one."""
        live = await sessions.live_sessions(db, settings, actor.session)
        return [SessionView.of(session, current=actor.session) for session in live]

    @router.delete("/sessions/{sessionId}", status_code=204, responses=problem_responses(404))
    async def revoke_session(
        session_id: SessionId, actor: Current, response: Response, db: DbSession, settings: SettingsDep
    ) -> None:
        """Revokes one session of the signed-in account (another account's session id answers 404)."""
        if not await sessions.revoke(db, actor.session, session_id):
            raise not_found("session")
        await audit.record(
            db,
            "session.revoked",
            tenant_id=actor.account.tenant_id,
            environment_id=actor.session.environment_id,
            actor=ref(actor.account),
            target=Ref("session", session_id),
        )
        if session_id == actor.session.id:
            clear_session_cookie(response, settings)

    @router.post("/logout-all", response_model=Revoked)
    async def logout_all(actor: Current, response: Response, db: DbSession, settings: SettingsDep) -> Revoked:
        """Revokes every session of the signed-in account, this one included."""
        revoked = await sessions.revoke_all(db, actor.account)
        await audit.record(
            db,
            "logout_all",
            tenant_id=actor.account.tenant_id,
            environment_id=actor.session.environment_id,
            actor=ref(actor.account),
            target=ref(actor.account),
            details={"revoked": revoked},
        )
        clear_session_cookie(response, settings)
        return Revoked(revoked=revoked)

    @router.post(
        "/forgot-password",
        response_model=Message,
        dependencies=[Depends(per_ip(f"{family}-forgot", FORGOT_PER_IP))],
        responses=problem_responses(404, 429),
    )
    async def forgot_password(
        body: ForgotPassword, pool: PoolDep, request: Request, db: DbSession, limiter: LimiterDep
    ) -> Message:
        """Emails a reset link if such an account exists. The answer is the same either way."""
        if await limiter.allow(FORGOT_PER_IDENTIFIER, f"{family}-forgot", str(pool.scope_id), *body.chosen()):
            await service.request_reset(db, pool, body)
            await audited(db, pool, "password.reset_requested", identifier_kind=body.chosen()[0])
            request.app.state.outbox.wake()
        return Message(message=service.FORGOT_ANSWER)

    @router.post(
        "/reset-password",
        response_model=ResetDone,
        dependencies=[Depends(per_ip(f"{family}-reset", RESET_PER_IP)), HashSlot],
        responses=problem_responses(404, 429, 503),
    )
    async def reset_password(
        body: ResetPassword, pool: PoolDep, request: Request, db: DbSession, hasher: HasherDep, lockout: LockoutDep
    ) -> ResetDone:
        """Sets a new password with the emailed token (single use, one hour); signs out every session."""
        try:
            account = await service.reset_password(db, hasher, lockout, pool, body)
        except Problem as problem:
            audit.record_failure(
                request, "password.reset_failed", problem, tenant_id=pool.tenant_id, environment_id=pool.environment_id
            )
            raise
        await audited(db, pool, "password.reset", account)
        request.app.state.outbox.wake()
        return ResetDone(success=True, message=service.RESET_ANSWER)

    @router.post("/change-password", status_code=204, dependencies=[HashSlot], responses=problem_responses(403, 503))
    async def change_password(
        body: ChangePassword, actor: Current, pool: PoolDep, request: Request, db: DbSession, hasher: HasherDep
    ) -> None:
        """Changes the signed-in account's password (the current one is required); other sessions end."""
        try:
            await service.change_password(db, hasher, pool, actor.account, actor.session, body)
        except Problem as problem:
            audit.record_failure(
                request, "password.change_failed", problem, tenant_id=pool.tenant_id, environment_id=pool.environment_id
            )
            raise
        await audited(db, pool, "password.changed", actor.account)
        request.app.state.outbox.wake()

    return router


tenant_router = family_router(AccountType.TENANT_ACCOUNT)
environment_router = family_router(AccountType.ENVIRONMENT_ACCOUNT)
