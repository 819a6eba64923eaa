"""Passkeys in the console: the options a page's script (`static/passkeys.js`) passes to the browser's WebAuthn
API, and the forms that script submits with the answer: registering a passkey in Settings, a passkey as the
second sign-in step, signing in with a passkey alone, and stepping up with one.

The options are JSON (`{"publicKey": …}`, or `{"message": …}` with the refusal's status, or `{"redirect": …}`
to the step-up page); the answers are ordinary CSRF-checked form posts answered with pages. The console's
relying party is `SUMP_PUBLIC_URL`'s host (`sump.factors.webauthn.relying_party`). Every rule is the services'.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import ImmutableMultiDict

from sump.access.cookies import cookie_token
from sump.accounts.pools import load_pool
from sump.auth import service as auth
from sump.console.factors import ACCOUNT_TAB, STEP_UP_CODE, back_path, codes_page, step_up_page_for
from sump.console.sign_in import refused_sign_in, session_response, tenant_pool
from sump.console.web import Actor, FormErrors, read_form, redirect, roll_back, safe_next
from sump.db.tables.sessions import AccountType
from sump.factors import passkeys
from sump.factors import service as factors
from sump.factors.schemas import AssertionCredential, PasskeySignIn, RegistrationCredential
from sump.kit.deps import CallDep
from sump.kit.errors import Problem

router = APIRouter()
UNREADABLE = "The passkey's answer could not be read. Try again."


def _options(found: passkeys.Options) -> JSONResponse:
    return JSONResponse({"publicKey": found.public_key, "expiresIn": found.expires_in})


def _refusal(problem: Problem, request: Request | None = None) -> JSONResponse:
    if problem.code == STEP_UP_CODE and request is not None:
        return JSONResponse({"redirect": "/console/step-up?" + urlencode({"next": back_path(request)})})
    body = {"message": problem.detail, "code": problem.code}
    return JSONResponse(body, status_code=problem.status, headers=problem.headers)


def _credential(form: ImmutableMultiDict[str, str], model: type[Any]) -> Any:
    try:
        return model.model_validate(json.loads(form.get("credential", "")))
    except (ValueError, ValidationError):
        raise FormErrors(message=UNREADABLE) from None


# --------------------------------------------------------------------------------------------- settings


@router.post("/settings/passkeys/options")
async def registration_options(request: Request, actor: Actor, call: CallDep) -> Response:
    await read_form(request, call.settings)
    pool = await load_pool(call.db, AccountType.TENANT_ACCOUNT, actor.tenant_id)
    try:
        return _options(await passkeys.registration_options(call, pool, actor.session, actor.account))
    except Problem as problem:
        await call.roll_back()
        return _refusal(problem, request)


@router.post("/settings/passkeys")
async def register(request: Request, actor: Actor, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    pool = await load_pool(call.db, AccountType.TENANT_ACCOUNT, actor.tenant_id)
    label = form.get("label", "").strip()[:100] or None
    try:
        credential: RegistrationCredential = _credential(form, RegistrationCredential)
        done = await passkeys.register(call, pool, actor.session, actor.account, credential.as_json(), label)
    except FormErrors as failed:
        return redirect(request, ACCOUNT_TAB, failed.message)
    except Problem as problem:
        if problem.code == STEP_UP_CODE:
            raise
        await roll_back(call.db, actor)
        return redirect(request, ACCOUNT_TAB, problem.detail)
    if done.recovery_codes:
        return codes_page(request, actor, done.recovery_codes, "Passkey added", first=True)
    return redirect(request, ACCOUNT_TAB, "Passkey added.")


# -------------------------------------------------------------------------------------------- sign-in


@router.post("/login/factor/options")
async def factor_options(request: Request, call: CallDep) -> Response:
    """Options to answer the second sign-in step with a passkey (the form carries the challenge)."""
    form = await read_form(request, call.settings)
    try:
        pool = await tenant_pool(call.db, form.get("tenantId", ""))
        return _options(await passkeys.factor_options(call, pool, form.get("challenge", "")))
    except FormErrors as failed:
        return JSONResponse({"message": next(iter(failed.errors.values()), UNREADABLE)}, status_code=400)
    except Problem as problem:
        await call.roll_back()
        return _refusal(problem)


@router.post("/login/passkey/options")
async def login_options(request: Request, call: CallDep) -> Response:
    """Options to sign in with a passkey alone (username-less: the authenticator offers its passkeys)."""
    form = await read_form(request, call.settings)
    try:
        pool = await tenant_pool(call.db, form.get("tenantId", ""))
        return _options(await passkeys.login_options(call, pool, None))
    except FormErrors as failed:
        return JSONResponse({"message": next(iter(failed.errors.values()), UNREADABLE)}, status_code=400)
    except Problem as problem:
        await call.roll_back()
        return _refusal(problem)


@router.post("/login/passkey")
async def login(request: Request, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    values = {"tenantId": form.get("tenantId", "").strip(), "next": safe_next(form.get("next"))}
    try:
        pool = await tenant_pool(call.db, values["tenantId"])
        credential: AssertionCredential = _credential(form, AssertionCredential)
        body = PasskeySignIn(credential=credential)
        done = await auth.sign_in_with_passkey(
            call, pool, body, channel="console", previous_token=cookie_token(request, call.settings)
        )
    except FormErrors as failed:
        return await refused_sign_in(
            request, call, Problem(400, "invalid_passkey", failed.message or UNREADABLE), values
        )
    except Problem as problem:
        return await refused_sign_in(request, call, problem, values)
    return session_response(request, call, done, pool.tenant_id, values["next"])


# -------------------------------------------------------------------------------------------- step-up


@router.post("/step-up/passkey/options")
async def step_up_options(request: Request, actor: Actor, call: CallDep) -> Response:
    await read_form(request, call.settings)
    pool = await load_pool(call.db, AccountType.TENANT_ACCOUNT, actor.tenant_id)
    try:
        return _options(await passkeys.step_up_options(call, pool, actor.account))
    except Problem as problem:
        await call.roll_back()
        return _refusal(problem)


@router.post("/step-up/passkey")
async def step_up(request: Request, actor: Actor, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    next_path = safe_next(form.get("next"))
    pool = await load_pool(call.db, AccountType.TENANT_ACCOUNT, actor.tenant_id)
    try:
        credential: AssertionCredential = _credential(form, AssertionCredential)
        await factors.step_up(call, pool, actor.session, actor.account, "webauthn", None, credential.as_json())
    except FormErrors as failed:
        return await step_up_page_for(request, call, actor, next_path, 400, errors={"form": failed.message or ""})
    except Problem as problem:
        await roll_back(call.db, actor)
        return await step_up_page_for(request, call, actor, next_path, problem.status, errors={"form": problem.detail})
    return redirect(request, next_path, "Confirmed: for the next 5 minutes you can make sensitive changes.")
