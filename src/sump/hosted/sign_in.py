"""The hosted sign-in of an environment's end users: identifier and password, then the second factor (or its
required enrolment), then the `sump_hosted` session and the authorization request that was waiting, if any.

Every step is the service's (`auth.service.sign_in`, `finish_sign_in`, `begin_enrolment`, `finish_enrolment`),
with the API's per-address budget, lockout, hashing slot and audit (`channel="hosted"`).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sump.access.cookies import clear_hosted_cookie, hosted_token, set_hosted_cookie
from sump.access.pools import Pool
from sump.accounts.schemas import Login
from sump.auth import service as auth
from sump.db.tables.environments import Environment
from sump.environments import service as environments
from sump.factors import service as factor_service
from sump.factors.schemas import ConfirmEnrolment, EnrolTotp, FactorAnswer
from sump.hosted import requests
from sump.hosted.web import (
    EnvironmentDep,
    RequestToken,
    base_path,
    read_form,
    redirect,
    render,
    request_field,
    signed_in,
    with_retry_after,
)
from sump.kit.deps import CallDep, SettingsDep
from sump.kit.devices import remember
from sump.kit.errors import Problem
from sump.kit.forms import FormErrors, identified, validated
from sump.kit.transactions import DbSession

router = APIRouter()
WRONG_PAIR = "Wrong identifier or password."


@router.get("/sign-in")
async def login_page(
    request: Request,
    environment: EnvironmentDep,
    db: DbSession,
    settings: SettingsDep,
    token: RequestToken = None,
) -> Response:
    pending = await requests.waiting(db, environment, request_field({"request": token or ""}))
    if pending is None and await signed_in(request, db, settings, environment) is not None:
        return redirect(request, environment, base_path(environment.id) + "/signed-in")
    values = {"request": pending.token if pending else "", "identifier": pending.login_hint if pending else ""}
    return render(request, environment, "sign_in.html", values=values, pending=pending)


@router.post("/sign-in")
async def login(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    form = await read_form(request, call.settings, environment.id)
    pending = await requests.waiting(call.db, environment, request_field(form))
    identifier = form.get("identifier", "").strip()
    values = {"identifier": identifier, "request": pending.token if pending else ""}
    pool = environments.pool(environment)
    try:
        if identifier and not form.get("password"):
            raise FormErrors({"password": "Enter your password."})
        body = identified(Login, identifier, password=form.get("password", ""))
        done = await auth.sign_in(call, pool, body, **_step(request, call))
    except FormErrors as failed:
        return render(request, environment, "sign_in.html", 400, errors=failed.errors, values=values, pending=pending)
    except Problem as problem:
        return await _refused(request, environment, call, problem, values)
    if isinstance(done, auth.Challenge):
        return await _second_step(request, environment, call, pool, done, values)
    return _session_response(request, environment, call, done, values["request"])


def _step(request: Request, call: CallDep) -> dict[str, Any]:
    """What the service hears of a hosted sign-in step: its channel, and the session of this browser (on these
    pages) that the new one replaces."""
    return {"channel": "hosted", "previous_token": hosted_token(request, call.settings)}


async def _second_step(
    request: Request,
    environment: Environment,
    call: CallDep,
    pool: Pool,
    challenge: auth.Challenge,
    values: dict[str, str],
) -> Response:
    """The code form, or under the `required` policy the enrolment of an authenticator app for an account
    without a factor (the challenge rides in a hidden field either way)."""
    if challenge.enrol:
        setup = await auth.begin_enrolment(call, pool, validated(EnrolTotp, {"challenge": challenge.token}))
        shown = {"secret": setup.secret, "uri": setup.uri, "qr_svg": setup.qr_svg}
        return _enrol_page(request, environment, values["request"], challenge.token, setup.factor.id, shown)
    return render(
        request,
        environment,
        "factor.html",
        values={"request": values["request"], "challenge": challenge.token},
        kinds=challenge.factors,
    )


def _enrol_page(
    request: Request,
    environment: Environment,
    pending: str,
    challenge: str,
    factor_id: uuid.UUID,
    shown: dict[str, Any] | None = None,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    values = {"request": pending, "challenge": challenge, "factorId": str(factor_id)}
    return render(request, environment, "enrol.html", status, errors=errors, values=values, **(shown or {}))


async def _refused(
    request: Request,
    environment: Environment,
    call: CallDep,
    problem: Problem,
    values: dict[str, str],
    template: str = "sign_in.html",
) -> Response:
    """A refusal shown on the form it answers; the same sentence for every wrong identifier or password, and
    back to the first step when the challenge no longer stands."""
    await _roll_back(call, environment)
    message = WRONG_PAIR if problem.code == "invalid_credentials" else problem.detail
    if problem.code == "invalid_challenge":
        template, values = "sign_in.html", {"request": values.get("request", "")}
    pending = await requests.waiting(call.db, environment, values.get("request", ""))
    response = render(
        request, environment, template, problem.status, errors={"form": message}, values=values, pending=pending
    )
    return with_retry_after(response, problem)


def _next(environment: Environment, pending: str) -> str:
    """Where a finished sign-in goes: the waiting authorization request's next step, or the signed-in page."""
    return requests.continue_url(environment.id, pending) if pending else base_path(environment.id) + "/signed-in"


def _with_session(response: Response, environment: Environment, call: CallDep, done: auth.SignedIn) -> Response:
    """The hosted session cookie of a finished sign-in, and the browser remembered as the account's device."""
    set_hosted_cookie(response, call.settings, environment.id, done.issued.token)
    remember(response, call.settings, call.client.devices, done.account.id)
    return response


def _session_response(
    request: Request, environment: Environment, call: CallDep, done: auth.SignedIn, pending: str
) -> Response:
    """The hosted session, then the waiting authorization request, or the signed-in page."""
    return _with_session(redirect(request, environment, _next(environment, pending)), environment, call, done)


@router.post("/sign-in/factor")
async def login_factor(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    """The second step: the challenge of the first and a code of the account's authenticator app, or a
    recovery code."""
    form = await read_form(request, call.settings, environment.id)
    pending = await requests.waiting(call.db, environment, request_field(form))
    values = {"request": pending.token if pending else "", "challenge": form.get("challenge", "")}
    answer: dict[str, Any] = {"code": form.get("code", "")}
    if form.get("credential"):  # a passkey's answer, posted by passkeys.js
        answer = {"factor": "webauthn", "credential": _json_or_none(form["credential"])}
    try:
        body = validated(FactorAnswer, {"challenge": values["challenge"], **answer})
        done = await auth.finish_sign_in(call, environments.pool(environment), body, **_step(request, call))
    except FormErrors as failed:
        unread = "The passkey's answer could not be read. Try again."
        errors = {"code": failed.errors.get("code", unread if form.get("credential") else "Enter the code.")}
        return render(request, environment, "factor.html", 400, errors=errors, values=values)
    except Problem as problem:
        return await _refused(request, environment, call, problem, values, "factor.html")
    return _session_response(request, environment, call, done, values["request"])


@router.post("/sign-in/enrol")
async def login_enrol(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    """Under the `required` policy: the first code of the authenticator app just set up ends the sign-in; the
    recovery codes are shown this once, before the application (or the signed-in page) opens."""
    form = await read_form(request, call.settings, environment.id)
    pending = await requests.waiting(call.db, environment, request_field(form))
    token = pending.token if pending else ""
    challenge, factor_id = form.get("challenge", ""), _uuid(form.get("factorId", ""))
    values = {"request": token}
    try:
        if factor_id is None:
            raise factor_service.invalid_challenge()
        body = validated(
            ConfirmEnrolment, {"challenge": challenge, "factorId": str(factor_id), "code": form.get("code", "")}
        )
        done = await auth.finish_enrolment(call, environments.pool(environment), body, **_step(request, call))
    except FormErrors as failed:
        assert factor_id is not None
        errors = {"code": failed.errors.get("code", "Enter the code.")}
        return _enrol_page(request, environment, token, challenge, factor_id, status=400, errors=errors)
    except Problem as problem:
        if problem.code == "invalid_code" and factor_id is not None:
            await _roll_back(call, environment)
            errors = problem.errors or {"code": problem.detail}
            return _enrol_page(request, environment, token, challenge, factor_id, status=problem.status, errors=errors)
        return await _refused(request, environment, call, problem, values)
    codes = done.recovery_codes or []
    page = render(request, environment, "codes.html", codes=codes, continue_to=_next(environment, token))
    return _with_session(page, environment, call, done)


async def _roll_back(call: CallDep, environment: Environment) -> None:
    """Undoes the request's writes after a refusal (the failed attempt is audited then), and reloads the
    environment that the page showing the refusal is branded with."""
    await call.roll_back()
    await call.db.refresh(environment)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


# ------------------------------------------------------------------------------------- signed in and out


@router.get("/signed-in")
async def signed_in_page(
    request: Request, environment: EnvironmentDep, db: DbSession, settings: SettingsDep
) -> Response:
    found = await signed_in(request, db, settings, environment)
    if found is None:
        return redirect(request, environment, base_path(environment.id) + "/sign-in")
    return render(request, environment, "signed_in.html", account=found[1])


@router.post("/logout")
async def logout(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    await read_form(request, call.settings, environment.id)
    found = await signed_in(request, call.db, call.settings, environment)
    if found is not None:
        await auth.sign_out(call, found[0], found[1])
    response = redirect(request, environment, base_path(environment.id) + "/signed-out")
    clear_hosted_cookie(response, call.settings, environment.id)
    return response


@router.get("/signed-out")
async def signed_out_page(request: Request, environment: EnvironmentDep) -> Response:
    return render(request, environment, "signed_out.html")


# What the passkey pages (`sump.hosted.passkeys`) share with these.
hosted_step = _step
second_step = _second_step
refused = _refused
session_response = _session_response
