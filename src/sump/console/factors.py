"""Second factors in the console: the signed-in account's own (an authenticator app enrolled with its QR code and
confirmed with a first code, recovery codes shown once and regenerated, a factor removed), the step-up page that
sensitive actions lead to, the tenant's factor policy, and an admin's reset of another account's factors.

Every rule is the service's (`sump.factors.enrolment`, `sump.factors.service`, `sump.factors.admin`,
`sump.tenants.service`): the pages only render what it answers. Nothing here needs JavaScript.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import EnvironmentActor, TenantActor
from sump.access.pools import Pool
from sump.accounts.pools import load_pool
from sump.config import Settings
from sump.console.web import (
    Actor,
    FormErrors,
    parse_id,
    problem_errors,
    read_form,
    redirect,
    render,
    roll_back,
    safe_next,
    validated,
)
from sump.db.tables.factors import FactorPolicy
from sump.db.tables.sessions import AccountType
from sump.environments import service as environments
from sump.factors import admin, enrolment, kinds, webauthn
from sump.factors import service as factors
from sump.factors.schemas import ConfirmTotp, NewTotp, StepUp
from sump.kit.deps import CallDep, SettingsDep
from sump.kit.errors import Problem, not_found
from sump.kit.transactions import DbSession
from sump.sessions.service import step_up_required
from sump.tenants import service as tenants
from sump.tenants.schemas import TenantUpdate

router = APIRouter()
ACCOUNT_TAB = "/console/settings?tab=account"
TENANT_TAB = "/console/settings?tab=tenant"
STEP_UP_CODE = step_up_required().code
POLICIES = [policy.value for policy in FactorPolicy]


async def _pool(call: CallDep, actor: TenantActor) -> Pool:
    return await load_pool(call.db, AccountType.TENANT_ACCOUNT, actor.tenant_id)


def _factor_id(value: str) -> uuid.UUID:
    found = parse_id(value)
    if found is None:
        raise not_found("factor")
    return found


# --------------------------------------------------------------------------------------------- step-up


def back_path(request: Request, form_back: str | None = None) -> str:
    """Where a refused action was asked from: the form's own `back`, else the page it was posted from (the
    console sends its referrer to itself only), else the requested page itself when it is a GET."""
    if form_back:
        return safe_next(form_back)
    referrer = urlsplit(request.headers.get("referer", ""))
    if referrer.path and referrer.netloc == request.url.netloc:
        return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
    if request.method == "GET":
        return safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return "/console/"


def step_up_redirect(request: Request) -> Response:
    """A console action answered `step_up_required`: the step-up page, and back to that page afterwards."""
    target = "/console/step-up?" + urlencode({"next": back_path(request)})
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return redirect(request, target)


def step_up_first(problem: Problem) -> None:
    """Handlers that show a refusal beside their form let a step-up refusal through to the step-up page."""
    if problem.code == STEP_UP_CODE:
        raise problem


async def step_up_page_for(
    request: Request, call: CallDep, actor: TenantActor, next_path: str, status: int = 200, **context: Any
) -> Response:
    listing = await enrolment.listing(call, await _pool(call, actor), actor.account)
    return render(
        request,
        "factors/step_up.html",
        status,
        actor=actor,
        section="settings",
        next=next_path,
        factors=sorted({factor.kind for factor in listing.factors}),
        kind_names=KIND_NAMES,
        recovery_codes_left=listing.recovery_codes_left,
        **context,
    )


@router.get("/step-up")
async def step_up_page(
    request: Request, actor: Actor, call: CallDep, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    return await step_up_page_for(request, call, actor, safe_next(next_path))


@router.post("/step-up")
async def step_up(request: Request, actor: Actor, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    next_path = safe_next(form.get("next"))
    answer = {name: form[name] for name in ("code", "currentPassword") if name in form} or {"code": ""}
    try:
        body = validated(StepUp, answer)
        pool = await _pool(call, actor)
        await factors.step_up(call, pool, actor.session, actor.account, None, body.code, None, body.current_password)
    except FormErrors as invalid:
        field = next(iter(answer))
        errors = {field: invalid.errors.get(field, "Enter it.")}
        return await step_up_page_for(request, call, actor, next_path, 400, errors=errors)
    except Problem as problem:
        await roll_back(call.db, actor)
        response = await step_up_page_for(request, call, actor, next_path, problem.status, errors=_code_errors(problem))
        response.headers.update({k: v for k, v in problem.headers.items() if k.lower() == "retry-after"})
        return response
    return redirect(request, next_path, "Confirmed: for the next 5 minutes you can make sensitive changes.")


def _code_errors(problem: Problem) -> dict[str, str]:
    """A refusal beside the field it is about (the code, or the password of a step-up), else above the form."""
    for field in ("code", "currentPassword"):
        if problem.errors and field in problem.errors:
            return {field: problem.errors[field]}
    return {"form": problem.detail}


# ------------------------------------------------------------------------------------------ own factors


@router.post("/settings/factors/totp")
async def new_totp(request: Request, actor: Actor, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    label = form.get("label", "").strip()
    try:
        body = validated(NewTotp, {"label": label})
        setup = await enrolment.begin_totp(call, await _pool(call, actor), actor.session, actor.account, body.label)
    except FormErrors as invalid:
        return redirect(request, ACCOUNT_TAB, invalid.errors.get("label", "The name is not valid."))
    except Problem as problem:
        step_up_first(problem)
        await roll_back(call.db, actor)
        return redirect(request, ACCOUNT_TAB, problem.detail)
    return render(
        request,
        "factors/totp.html",
        actor=actor,
        section="settings",
        factor_id=setup.factor.id,
        secret=setup.secret,
        uri=setup.uri,
        qr_svg=setup.qr_svg,
    )


def codes_page(request: Request, actor: TenantActor, codes: list[str], heading: str, **context: Any) -> Response:
    return render(
        request, "factors/codes.html", actor=actor, section="settings", codes=codes, heading=heading, **context
    )


@router.post("/settings/factors/{factor_id}/confirm")
async def confirm_totp(request: Request, actor: Actor, call: CallDep, factor_id: str) -> Response:
    form = await read_form(request, call.settings)
    target = _factor_id(factor_id)
    try:
        body = validated(ConfirmTotp, {"code": form.get("code", "")})
        done = await enrolment.confirm_totp(
            call, await _pool(call, actor), actor.session, actor.account, target, body.code
        )
    except (FormErrors, Problem) as failed:
        if isinstance(failed, Problem):
            if failed.status == 404:
                raise
            step_up_first(failed)
            await roll_back(call.db, actor)
            errors, status = _code_errors(failed), failed.status
        else:
            errors, status = {"code": failed.errors.get("code", "Enter the code.")}, 400
        return render(
            request, "factors/totp.html", status, actor=actor, section="settings", factor_id=target, errors=errors
        )
    if done.recovery_codes:
        return codes_page(request, actor, done.recovery_codes, "Authenticator app added", first=True)
    return redirect(request, ACCOUNT_TAB, "Authenticator app added.")


@router.post("/settings/factors/{factor_id}/remove")
async def remove_factor(request: Request, actor: Actor, call: CallDep, factor_id: str) -> Response:
    await read_form(request, call.settings)
    await enrolment.remove(call, await _pool(call, actor), actor.session, actor.account, _factor_id(factor_id))
    return redirect(request, ACCOUNT_TAB, "Second factor removed.")


@router.post("/settings/recovery-codes")
async def regenerate_codes(request: Request, actor: Actor, call: CallDep) -> Response:
    await read_form(request, call.settings)
    fresh = await enrolment.regenerate_codes(call, await _pool(call, actor), actor.session, actor.account)
    return codes_page(request, actor, fresh, "New recovery codes")


# ----------------------------------------------------------------------------------------------- policy


@router.post("/settings/factor-policy")
async def save_policy(request: Request, actor: Actor, db: DbSession, settings: SettingsDep) -> Response:
    form = await read_form(request, settings)
    try:
        body = validated(TenantUpdate, {"settings": {"factorPolicy": form.get("factorPolicy", "")}})
        await tenants.update(db, actor, body)
    except FormErrors:
        return redirect(request, TENANT_TAB, "Choose off, optional or required.")
    except Problem as problem:
        if problem.status != 400:
            raise
        return redirect(request, TENANT_TAB, problem_errors(problem).message or problem.detail)
    assert body.settings is not None
    assert body.settings.factor_policy is not None
    return redirect(request, TENANT_TAB, f"Second factors are now {body.settings.factor_policy.value}.")


KIND_NAMES = {kinds.TOTP.name: "Authenticator app", kinds.WEBAUTHN.name: "Passkey"}


async def own_factors(db: AsyncSession, settings: Settings, actor: TenantActor) -> dict[str, Any]:
    """What the Account tab shows of the signed-in account's factors, and why passkeys are unavailable (the
    console's relying party is SUMP_PUBLIC_URL's host, never an IP address)."""
    pool = await load_pool(db, AccountType.TENANT_ACCOUNT, actor.tenant_id)
    listing = await enrolment.listing_in(db, pool, actor.account)
    try:
        webauthn.relying_party(settings, pool)
        passkey_problem = None
    except Problem as problem:
        passkey_problem = problem.detail
    return {
        "factors": listing.factors,
        "recovery_codes_left": listing.recovery_codes_left,
        "factor_policy": pool.factor_policy.value,
        "kind_names": KIND_NAMES,
        "passkey_problem": passkey_problem,
    }


# ------------------------------------------------------------------------------------------ admin reset


@router.post("/accounts/{account_id}/reset-factors")
async def reset_account_factors(request: Request, actor: Actor, call: CallDep, account_id: str) -> Response:
    await read_form(request, call.settings)
    target = parse_id(account_id)
    if target is None:
        raise not_found("account")
    removed = await admin.reset_tenant_account(call, actor, target)
    return redirect(request, f"/console/accounts/{target}", _reset_flash(removed))


@router.post("/environments/{environment_id}/users/{account_id}/reset-factors")
async def reset_end_user_factors(
    request: Request, actor: Actor, call: CallDep, environment_id: uuid.UUID, account_id: uuid.UUID
) -> Response:
    await read_form(request, call.settings)
    acting = EnvironmentActor(await environments.get(call.db, actor, environment_id), manager=actor)
    removed = await admin.reset_end_user(call, acting, account_id)
    return redirect(request, f"/console/environments/{environment_id}/users/{account_id}", _reset_flash(removed))


def _reset_flash(removed: int) -> str:
    plural = "factor was" if removed == 1 else "factors were"
    return f"Second factors reset: {removed} {plural} removed, with the recovery codes. The account was told by email."
