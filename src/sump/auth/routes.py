"""`/auth/tenants/{tenantId}/…`: sign-in and session management for tenant accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from sump.auth import service
from sump.auth.cookies import clear_session_cookie, session_token, set_session_cookie
from sump.auth.dependencies import CurrentTenantSession, TenantId
from sump.auth.schemas import Login
from sump.db.deps import DbSession
from sump.kit.deps import ClientDep, HasherDep, SettingsDep
from sump.kit.errors import not_found, problem_responses
from sump.kit.ratelimit import per_ip
from sump.sessions import service as sessions
from sump.sessions.schemas import Revoked, SessionView, SignedIn

router = APIRouter(prefix="/auth/tenants/{tenantId}", tags=["tenant sign-in"], responses=problem_responses(400, 401))
SessionId = Annotated[uuid.UUID, Path(alias="sessionId")]


@router.post(
    "/login",
    response_model=SignedIn,
    response_model_exclude_none=True,
    dependencies=[Depends(per_ip("tenant-login", "30/minute"))],
    responses=problem_responses(404, 429, 503),
)
async def login(
    tenant_id: TenantId,
    body: Login,
    request: Request,
    response: Response,
    db: DbSession,
    hasher: HasherDep,
    settings: SettingsDep,
    client: ClientDep,
) -> SignedIn:
    """Signs in with email, phone or username and password; sets `sump_session` and returns the session."""
    previous = session_token(request, settings)
    account, issued = await service.login_tenant_account(db, hasher, settings, tenant_id, body, client)
    if previous:
        await sessions.revoke_token(db, previous)
    set_session_cookie(response, settings, issued.token)
    return SignedIn(account_id=account.id, session=SessionView.of(issued.session), token=issued.token)


@router.post("/logout", status_code=204)
async def logout(
    tenant_id: TenantId, request: Request, response: Response, db: DbSession, settings: SettingsDep
) -> None:
    """Ends the current session of this tenant, if any, and clears the cookie. Always 204."""
    token = session_token(request, settings)
    if token:
        found = await sessions.resolve_tenant_session(db, settings, token)
        if found and found[0].tenant_id == tenant_id:
            await sessions.revoke_token(db, token)
    clear_session_cookie(response, settings)


@router.get("/session", response_model=SessionView, response_model_exclude_none=True)
async def current_session(actor: CurrentTenantSession) -> SessionView:
    return SessionView.of(actor.session)


@router.get("/sessions", response_model=list[SessionView], response_model_exclude_none=True)
async def list_sessions(actor: CurrentTenantSession, db: DbSession, settings: SettingsDep) -> list[SessionView]:
    """Live sessions of the signed-in account, most recently active first; `current` marks this one."""
    live = await sessions.live_sessions(db, settings, actor.session)
    return [SessionView.of(session, current=actor.session) for session in live]


@router.delete("/sessions/{sessionId}", status_code=204, responses=problem_responses(404))
async def revoke_session(
    session_id: SessionId,
    actor: CurrentTenantSession,
    response: Response,
    db: DbSession,
    settings: SettingsDep,
) -> None:
    """Revokes one session of the signed-in account (another account's session id answers 404)."""
    if not await sessions.revoke(db, actor.session, session_id):
        raise not_found("session")
    if session_id == actor.session.id:
        clear_session_cookie(response, settings)


@router.post("/logout-all", response_model=Revoked)
async def logout_all(actor: CurrentTenantSession, response: Response, db: DbSession, settings: SettingsDep) -> Revoked:
    """Revokes every session of the signed-in account, this one included."""
    revoked = await sessions.revoke_all(db, actor.session.account_type, actor.session.account_id)
    clear_session_cookie(response, settings)
    return Revoked(revoked=revoked)
