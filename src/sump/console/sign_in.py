"""Console pages open to everyone: sign-in, sign-out, the setup wizard, forgotten and reset passwords.

They call the same services as `/api/v1/auth/tenants/…` and `POST /api/v1/tenants`, with the same per-IP
limits, lockout and audit events.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.cookies import clear_session_cookie, cookie_token, set_session_cookie
from sump.access.pools import Pool
from sump.accounts import reset as resets
from sump.accounts.pools import load_pool
from sump.accounts.schemas import ForgotPassword, Login, ResetPassword
from sump.auth import service as auth
from sump.console.web import (
    TENANT_COOKIE,
    FormErrors,
    parse_id,
    problem_errors,
    read_form,
    redirect,
    render,
    safe_next,
    set_console_cookie,
    signed_in_or_none,
    validated,
)
from sump.db.tables.sessions import AccountType
from sump.environments.schemas import EnvironmentCreate
from sump.factors import service as factor_service
from sump.factors.enrolment import TotpSetup
from sump.factors.schemas import ConfirmEnrolment, EnrolTotp, FactorAnswer
from sump.kit.deps import CallDep, SettingsDep
from sump.kit.devices import remember
from sump.kit.errors import Problem
from sump.kit.forms import identified
from sump.kit.password_policy import DEFAULT_POLICY
from sump.kit.ratelimit import hit_per_ip
from sump.kit.transactions import DbSession
from sump.onboarding import service as onboarding
from sump.onboarding.schemas import OwnerFields, TenantCreate
from sump.tenants.schemas import TenantFields

router = APIRouter()
NO_SUCH_TENANT = "No tenant has this ID. Check the ID you were given when the tenant was created."


async def _pool(db: AsyncSession, tenant_text: str) -> Pool:
    tenant_id = parse_id(tenant_text.strip())
    if tenant_id is None:
        raise FormErrors({"tenantId": "Enter the tenant ID: a UUID such as 0192f0c3-…"})
    try:
        return await load_pool(db, AccountType.TENANT_ACCOUNT, tenant_id)
    except Problem as problem:
        raise FormErrors({"tenantId": NO_SUCH_TENANT}) from problem


def _signed_in_response(
    request: Request, path: str, token: str, tenant_id: uuid.UUID, flash: str | None = None
) -> Response:
    settings = request.app.state.settings
    response = redirect(request, path, flash)
    set_session_cookie(response, settings, token)
    set_console_cookie(response, settings, TENANT_COOKIE, str(tenant_id), max_age=365 * 86400)
    return response


# ------------------------------------------------------------------------------------------------ sign-in


@router.get("/login")
async def login_page(
    request: Request, db: DbSession, settings: SettingsDep, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    if await signed_in_or_none(request, db, settings) is not None:
        return redirect(request, safe_next(next_path))
    values = {"tenantId": request.cookies.get(TENANT_COOKIE, ""), "next": safe_next(next_path)}
    return render(request, "login.html", values=values)


@router.post("/login")
async def login(request: Request, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    identifier = form.get("identifier", "").strip()
    values = {
        "tenantId": form.get("tenantId", "").strip(),
        "identifier": identifier,
        "next": safe_next(form.get("next")),
    }
    try:
        if not identifier:
            raise FormErrors({"identifier": "Enter your email, username or phone number."})
        if not form.get("password"):
            raise FormErrors({"password": "Enter your password."})
        pool = await _pool(call.db, values["tenantId"])
        body = identified(Login, identifier, password=form["password"])
        done = await auth.sign_in(
            call, pool, body, channel="console", previous_token=cookie_token(request, call.settings)
        )
    except FormErrors as failed:
        return render(request, "login.html", 400, errors=failed.errors, values=values)
    except Problem as problem:
        return await _refused(request, call, problem, values)
    if isinstance(done, auth.Challenge):
        return await _second_step(request, call, pool, done, values)
    return _session_response(request, call, done, pool.tenant_id, values["next"])


async def _second_step(
    request: Request, call: CallDep, pool: Pool, challenge: auth.Challenge, values: dict[str, str]
) -> Response:
    """The code form of a sign-in that needs a second factor, or, where the policy requires one and the account
    has none, the enrolment of an authenticator app (the challenge rides in a hidden field either way)."""
    if challenge.enrol:
        setup = await auth.begin_enrolment(call, pool, validated(EnrolTotp, {"challenge": challenge.token}))
        return _enrol_page(request, values, challenge.token, setup.factor.id, setup)
    return render(
        request,
        "login.html",
        200,
        values={**values, "challenge": challenge.token},
        step="factor",
        kinds=challenge.factors,
    )


def _enrol_page(
    request: Request,
    values: dict[str, str],
    challenge: str,
    factor_id: uuid.UUID,
    setup: TotpSetup | None = None,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    hidden = {
        "tenantId": values["tenantId"],
        "next": values["next"],
        "challenge": challenge,
        "factorId": str(factor_id),
    }
    shown: dict[str, Any] = {"secret": setup.secret, "uri": setup.uri, "qr_svg": setup.qr_svg} if setup else {}
    return render(
        request,
        "factors/totp.html",
        status,
        errors=errors,
        factor_id=factor_id,
        hidden=hidden,
        confirm_action="/console/login/enrol",
        cancel=False,
        required=True,
        **shown,
    )


async def _refused(
    request: Request, call: CallDep, problem: Problem, values: dict[str, str], step: str = ""
) -> Response:
    await call.roll_back()
    message = "Wrong identifier or password." if problem.code == "invalid_credentials" else problem.detail
    if problem.code == "invalid_challenge":
        step, values = "", {key: value for key, value in values.items() if key != "challenge"}
    response = render(request, "login.html", problem.status, errors={"form": message}, values=values, step=step)
    if "Retry-After" in problem.headers:
        response.headers["Retry-After"] = problem.headers["Retry-After"]
    return response


def _session_response(
    request: Request, call: CallDep, done: auth.SignedIn, tenant_id: uuid.UUID, next_path: str
) -> Response:
    response = _signed_in_response(request, next_path, done.issued.token, tenant_id)
    remember(response, call.settings, call.client.devices, done.account.id)
    return response


@router.post("/login/factor")
async def login_factor(request: Request, call: CallDep) -> Response:
    """The second step of a console sign-in: the challenge of the first and a code (or a recovery code)."""
    form = await read_form(request, call.settings)
    values = {
        "tenantId": form.get("tenantId", "").strip(),
        "next": safe_next(form.get("next")),
        "challenge": form.get("challenge", ""),
    }
    try:
        pool = await _pool(call.db, values["tenantId"])
        answer: dict[str, Any] = {"code": form.get("code", "")}
        if form.get("credential"):  # a passkey's answer, posted by static/passkeys.js
            answer = {"factor": "webauthn", "credential": _json_or_none(form["credential"])}
        body = validated(FactorAnswer, {"challenge": values["challenge"], **answer})
        done = await auth.finish_sign_in(
            call, pool, body, channel="console", previous_token=cookie_token(request, call.settings)
        )
    except FormErrors as failed:
        unread = "The passkey's answer could not be read. Try again."
        errors = {"code": failed.errors.get("code", unread if form.get("credential") else "Enter the code.")}
        return render(request, "login.html", 400, errors=errors, values=values, step="factor")
    except Problem as problem:
        return await _refused(request, call, problem, values, step="factor")
    return _session_response(request, call, done, pool.tenant_id, values["next"])


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


@router.post("/login/enrol")
async def login_enrol(request: Request, call: CallDep) -> Response:
    """Under the `required` policy: the first code of the authenticator app just set up ends the sign-in, and
    the recovery codes are shown this once before the console opens."""
    form = await read_form(request, call.settings)
    values = {"tenantId": form.get("tenantId", "").strip(), "next": safe_next(form.get("next"))}
    challenge, factor_text = form.get("challenge", ""), form.get("factorId", "")
    factor_id = parse_id(factor_text)
    try:
        pool = await _pool(call.db, values["tenantId"])
        if factor_id is None:
            raise factor_service.invalid_challenge()
        body = validated(
            ConfirmEnrolment, {"challenge": challenge, "factorId": str(factor_id), "code": form.get("code", "")}
        )
        done = await auth.finish_enrolment(
            call, pool, body, channel="console", previous_token=cookie_token(request, call.settings)
        )
    except FormErrors as failed:
        if factor_id is None:  # no enrolment under way: the form did not come from its page
            return await _refused(request, call, factor_service.invalid_challenge(), values)
        errors = {"code": failed.errors.get("code", "Enter the code.")}
        return _enrol_page(request, values, challenge, factor_id, status=400, errors=errors)
    except Problem as problem:
        if problem.code == "invalid_code" and factor_id is not None:
            await call.roll_back()
            return _enrol_page(request, values, challenge, factor_id, status=problem.status, errors=problem.errors)
        return await _refused(request, call, problem, values)
    response = render(
        request,
        "factors/codes.html",
        codes=done.recovery_codes or [],
        heading="Authenticator app added",
        first=True,
        continue_to=values["next"],
    )
    set_session_cookie(response, call.settings, done.issued.token)
    set_console_cookie(response, call.settings, TENANT_COOKIE, str(pool.tenant_id), max_age=365 * 86400)
    remember(response, call.settings, call.client.devices, done.account.id)
    return response


# What the console's passkey pages share with these (`sump.console.passkeys`).
tenant_pool = _pool
refused_sign_in = _refused
session_response = _session_response


@router.post("/logout")
async def logout(request: Request, call: CallDep) -> Response:
    await read_form(request, call.settings)
    actor = await signed_in_or_none(request, call.db, call.settings)
    if actor is not None:
        await auth.sign_out(call, actor.session, actor.account)
    response = redirect(request, "/console/login", "You have been signed out.")
    clear_session_cookie(response, call.settings)
    return response


# ------------------------------------------------------------------------------------------- setup wizard

SETUP_STEPS = ("Your organisation", "Owner account", "First environment")
OWNER_FIELDS = {"ownerName": "name", "email": "email", "username": "username", "phone": "phone", "password": "password"}


@router.get("/setup")
async def setup_page(request: Request) -> Response:
    if not request.app.state.settings.tenant_signup:
        return _closed(request)
    return render(request, "setup.html", step=1, steps=SETUP_STEPS)


def _closed(request: Request) -> Response:
    return render(request, "setup.html", 403, closed=True, steps=SETUP_STEPS)


def _check_step(step: int, form: dict[str, str]) -> None:
    """The rules of one wizard step, the same as `POST /api/v1/tenants` applies (messages by form field)."""
    if step == 1:
        validated(TenantFields, {"name": form.get("name", "")})
    elif step == 2:
        owner = {wire: form.get(field, "").strip() for field, wire in OWNER_FIELDS.items() if field != "password"}
        owner = {wire: value for wire, value in owner.items() if value or wire != "phone"}
        try:
            validated(OwnerFields, {**owner, "password": form.get("password", "")})
        except FormErrors as invalid:
            wire_to_field = {wire: field for field, wire in OWNER_FIELDS.items()}
            raise FormErrors(
                {wire_to_field.get(key, key): message for key, message in invalid.errors.items()}
            ) from invalid
        if form.get("password") != form.get("passwordConfirm"):
            raise FormErrors({"passwordConfirm": "Passwords do not match."})
        try:
            DEFAULT_POLICY.check(form["password"], email=owner.get("email"), username=owner.get("username"))
        except Problem as problem:
            raise problem_errors(problem, "password") from problem
    elif step == 3 and form.get("environmentName", "").strip():
        try:
            validated(EnvironmentCreate, {"name": form["environmentName"]})
        except FormErrors as invalid:
            raise FormErrors({"environmentName": invalid.errors.get("name", "Not a valid name.")}) from invalid


# Fields read without the spaces around them (passwords are taken as typed).
TRIMMED = ("name", "ownerName", "email", "username", "phone", "environmentName")
# Where a rule of `POST /api/v1/tenants` shows on the wizard's form.
FORM_FIELDS = {"tenant.name": "name", "account.name": "ownerName", "environment.name": "environmentName"}


def wizard_step(text: str) -> int:
    """The step a form was sent from, 1 to 3: ASCII digits only (`²` and `٣` are digits to `str.isdigit`, not to
    `int`), anything else is the first step, and a larger number the last."""
    if not (text.isascii() and text.isdigit()):
        return 1
    return min(max(int(text) if len(text) < 4 else 3, 1), 3)


def _tenant_body(form: dict[str, str]) -> TenantCreate:
    environment_name = form.get("environmentName", "")
    account = {wire: form.get(field, "") for field, wire in OWNER_FIELDS.items()}
    try:
        return validated(
            TenantCreate,
            {
                "tenant": {"name": form.get("name", "")},
                "account": {wire: value for wire, value in account.items() if value or wire != "phone"},
                **({"environment": {"name": environment_name}} if environment_name else {}),
            },
        )
    except FormErrors as invalid:
        errors = {
            FORM_FIELDS.get(key, key.removeprefix("account.")): message for key, message in invalid.errors.items()
        }
        raise FormErrors(errors) from invalid


@router.post("/setup")
async def setup(request: Request, call: CallDep) -> Response:
    form = dict(await read_form(request, call.settings))
    if not call.settings.tenant_signup:  # no step of the wizard, and no count against the address's limit
        return _closed(request)
    form.pop("csrf", None)
    form.update({field: form[field].strip() for field in TRIMMED if field in form})
    step = wizard_step(form.get("step", "1"))
    action = form.get("action", "next")
    values = {key: value for key, value in form.items() if key not in {"step", "action"}}

    def page(at: int, errors: dict[str, str] | None = None, status: int = 200) -> Response:
        return render(request, "setup.html", status, step=at, steps=SETUP_STEPS, values=values, errors=errors)

    if action == "back":
        return page(max(step - 1, 1))
    for earlier in range(1, step + 1):
        try:
            _check_step(earlier, form)
        except FormErrors as invalid:
            return page(earlier, invalid.errors, 400)
    if step < 3:
        return page(step + 1)
    try:
        body = _tenant_body(form)
    except FormErrors as invalid:
        return page(3, invalid.errors, 400)
    try:
        await hit_per_ip(request, "tenant-create", onboarding.CREATE_PER_IP)
        created = await onboarding.create(call, body)
    except Problem as problem:
        await call.roll_back()
        return page(3, {"form": problem.detail}, problem.status)
    return _signed_in_response(
        request,
        "/console/",
        created.session.token,
        created.tenant.id,
        f"Welcome to Sump. Your tenant ID is {created.tenant.id}: keep it to sign in.",
    )


# ------------------------------------------------------------------------------------------ passwords


@router.get("/forgot-password")
async def forgot_page(request: Request) -> Response:
    return render(request, "forgot.html", values={"tenantId": request.cookies.get(TENANT_COOKIE, "")})


@router.post("/forgot-password")
async def forgot(request: Request, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    identifier = form.get("identifier", "").strip()
    values = {"tenantId": form.get("tenantId", "").strip(), "identifier": identifier}
    try:
        pool = await _pool(call.db, values["tenantId"])
        await resets.request_reset(call, pool, identified(ForgotPassword, identifier))
    except FormErrors as failed:
        return render(request, "forgot.html", 400, errors=failed.errors, values=values)
    except Problem as problem:
        return render(request, "forgot.html", problem.status, errors={"form": problem.detail}, values=values)
    return render(request, "forgot.html", values=values, sent=resets.FORGOT_ANSWER)


@router.get("/reset-password")
async def reset_page(request: Request, tenant: str = "", token: str = "") -> Response:
    return render(request, "reset.html", values={"tenant": tenant, "token": token})


@router.post("/reset-password")
async def reset(request: Request, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    values = {"tenant": form.get("tenant", ""), "token": form.get("token", "")}
    try:
        pool = await _pool(call.db, values["tenant"])
        if form.get("newPassword", "") != form.get("passwordConfirm", ""):
            raise FormErrors({"passwordConfirm": "Passwords do not match."})
        body = validated(ResetPassword, {"token": values["token"] or "-", "newPassword": form.get("newPassword", "")})
        await auth.reset_password(call, pool, body)
    except FormErrors as failed:
        return render(request, "reset.html", 400, errors=failed.errors, values=values)
    except Problem as problem:
        await call.roll_back()
        errors = (
            {"newPassword": problem.errors["password"]}
            if problem.errors and "password" in problem.errors
            else {
                "form": "This reset link is invalid or has expired. Ask for a new one."
                if problem.code == "invalid_token"
                else problem.detail
            }
        )
        return render(request, "reset.html", problem.status, errors=errors, values=values)
    return redirect(request, "/console/login", resets.RESET_ANSWER)
