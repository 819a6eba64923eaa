"""Settings in the console: the tenant (name, custom properties, deletion) and the signed-in account (its
sessions and its password).

Tenant changes need an admin or owner and deleting the tenant an owner, as in `/api/v1/tenants/{tenantId}`;
sessions and the password are the signed-in account's own, as in `/api/v1/auth/tenants/{tenantId}/…`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sump.access.actors import TenantActor
from sump.access.cookies import clear_session_cookie
from sump.access.policy import require
from sump.accounts.pools import load_pool
from sump.accounts.schemas import ChangePassword
from sump.auth import service as auth
from sump.console.factors import POLICIES, own_factors, step_up_first
from sump.console.web import (
    Actor,
    FormErrors,
    parse_id,
    problem_errors,
    property_edits,
    read_form,
    redirect,
    render,
    roll_back,
    validated,
)
from sump.db.tables.sessions import AccountType
from sump.kit.deps import CallDep, SettingsDep
from sump.kit.errors import Problem, not_found
from sump.kit.transactions import DbSession
from sump.sessions import service as sessions
from sump.tenants import policy as tenant_policy
from sump.tenants import service as tenants
from sump.tenants.schemas import TenantUpdate

router = APIRouter()
TABS = ("tenant", "account")
TENANT_TAB = "/console/settings?tab=tenant"
ACCOUNT_TAB = "/console/settings?tab=account"


async def _page(
    request: Request,
    actor: TenantActor,
    db: DbSession,
    settings: SettingsDep,
    tab: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {}
    if tab == "account":
        context["sessions"] = await sessions.live_sessions(db, settings, actor.session)
        context.update(await own_factors(db, settings, actor))
    else:
        overview = await tenants.overview(db, actor)
        context.update(tenant=overview.tenant, counts=overview, policies=POLICIES)
        values = {"name": overview.tenant.name, **(values or {})}
    return render(
        request,
        "settings/index.html",
        status,
        actor=actor,
        section="settings",
        tab=tab,
        can_edit=tenant_policy.edit(actor) is None,
        can_change_settings=tenant_policy.change_settings(actor) is None,
        values=values,
        errors=errors,
        **context,
    )


@router.get("/settings")
async def settings_page(
    request: Request, actor: Actor, db: DbSession, settings: SettingsDep, tab: Annotated[str, Query()] = "tenant"
) -> Response:
    return await _page(request, actor, db, settings, tab if tab in TABS else "tenant")


# -------------------------------------------------------------------------------------------------- tenant


@router.post("/settings/tenant")
async def rename_tenant(request: Request, actor: Actor, db: DbSession, settings: SettingsDep) -> Response:
    form = await read_form(request, settings)
    require(tenant_policy.edit(actor))
    name = form.get("name", "")
    try:
        body = validated(TenantUpdate, {"name": name})
        await tenants.update(db, actor, body)
    except FormErrors as invalid:
        message = invalid.errors.get("name") or next(iter(invalid.errors.values()))
        return await _page(
            request, actor, db, settings, "tenant", values={"name": name}, errors={"name": message}, status=400
        )
    except Problem as problem:
        await roll_back(db, actor)
        failed = problem_errors(problem, "name")
        return await _page(
            request, actor, db, settings, "tenant", values={"name": name}, errors=failed.errors, status=problem.status
        )
    return redirect(request, TENANT_TAB, "Tenant name updated")


@router.post("/settings/properties")
async def save_properties(request: Request, actor: Actor, db: DbSession, settings: SettingsDep) -> Response:
    form = await read_form(request, settings)
    require(tenant_policy.edit(actor))
    try:
        tenant = (await tenants.overview(db, actor)).tenant
        changes, deleted = property_edits(form, tenant.custom_properties)
        if changes:
            await tenants.set_properties(db, actor, changes)
        for key in deleted:
            await tenants.delete_property(db, actor, key)
    except FormErrors as invalid:
        return await _page(request, actor, db, settings, "tenant", errors=invalid.errors, status=400)
    except Problem as problem:
        await roll_back(db, actor)
        failed = problem_errors(problem, "properties")
        errors = {"properties": failed.message or next(iter(failed.errors.values()), problem.detail)}
        return await _page(request, actor, db, settings, "tenant", errors=errors, status=problem.status)
    saved = "Custom properties saved" if changes or deleted else "No custom property changed"
    return redirect(request, TENANT_TAB, saved)


@router.get("/settings/delete-tenant")
async def delete_tenant_page(request: Request, actor: Actor, db: DbSession) -> Response:
    require(tenant_policy.delete(actor))
    overview = await tenants.overview(db, actor)
    return render(
        request, "settings/delete.html", actor=actor, section="settings", tenant=overview.tenant, counts=overview
    )


@router.post("/settings/delete-tenant")
async def delete_tenant(request: Request, actor: Actor, db: DbSession, settings: SettingsDep) -> Response:
    form = await read_form(request, settings)
    require(tenant_policy.delete(actor))
    overview = await tenants.overview(db, actor)
    if form.get("confirm", "").strip() != overview.tenant.name:
        errors = {"confirm": "Type the tenant name exactly as shown to confirm."}
        return render(
            request,
            "settings/delete.html",
            400,
            actor=actor,
            section="settings",
            tenant=overview.tenant,
            counts=overview,
            errors=errors,
        )
    await tenants.delete(db, actor)
    response = redirect(request, "/console/login", f"The tenant {overview.tenant.name} was deleted.")
    clear_session_cookie(response, settings)
    return response


# ------------------------------------------------------------------------------------------------- account


@router.post("/settings/sessions/{session_id}/revoke")
async def revoke_session(request: Request, actor: Actor, call: CallDep, session_id: str) -> Response:
    await read_form(request, call.settings)
    target = parse_id(session_id)
    if target is None:
        raise not_found("session")
    await auth.revoke_session(call, actor.session, actor.account, target)
    if target == actor.session.id:
        response = redirect(request, "/console/login", "You have been signed out.")
        clear_session_cookie(response, call.settings)
        return response
    return redirect(request, ACCOUNT_TAB, "Session revoked")


@router.post("/settings/sessions/revoke-others")
async def revoke_other_sessions(request: Request, actor: Actor, call: CallDep) -> Response:
    await read_form(request, call.settings)
    revoked = await auth.revoke_all_sessions(call, actor.session, actor.account, keep_this=True)
    plural = "session was" if revoked == 1 else "sessions were"
    return redirect(request, ACCOUNT_TAB, f"Signed out of your other sessions ({revoked} {plural} ended)")


@router.post("/settings/password")
async def change_password(request: Request, actor: Actor, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    pool = await load_pool(call.db, AccountType.TENANT_ACCOUNT, actor.tenant_id)
    try:
        if not form.get("currentPassword"):
            raise FormErrors({"currentPassword": "Enter your current password."})
        if not form.get("newPassword"):
            raise FormErrors({"newPassword": "Enter a new password."})
        if form.get("newPassword") != form.get("passwordConfirm"):
            raise FormErrors({"passwordConfirm": "Passwords do not match."})
        body = validated(
            ChangePassword, {"currentPassword": form["currentPassword"], "newPassword": form["newPassword"]}
        )
        await auth.change_password(call, pool, actor.session, actor.account, body)
    except FormErrors as invalid:
        return await _page(request, actor, call.db, call.settings, "account", errors=invalid.errors, status=400)
    except Problem as problem:
        step_up_first(problem)
        await roll_back(call.db, actor)
        failed = problem_errors(problem, "newPassword")
        errors = {("newPassword" if key == "password" else key): text for key, text in failed.errors.items()}
        return await _page(request, actor, call.db, call.settings, "account", errors=errors, status=problem.status)
    return redirect(request, ACCOUNT_TAB, "Password changed. Your other sessions have been signed out.")
