"""Hosted pages around an end user's account: sign-up (where the environment allows it), a forgotten password and
its reset. The same services as `/api/v1/auth/environments/{environmentId}/…`, with their limits and audit. A
sign-up that answers the enrolment challenge (second factors required) goes on to the hosted sign-in's own
enrolment page, as a password sign-in does."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sump.accounts import reset as resets
from sump.accounts.schemas import ForgotPassword, ResetPassword, Signup
from sump.auth import service as auth
from sump.environments import service as environments
from sump.hosted import requests
from sump.hosted.sign_in import hosted_step, second_step, session_response
from sump.hosted.web import (
    EnvironmentDep,
    RequestToken,
    read_form,
    render,
    request_field,
    with_retry_after,
)
from sump.kit.deps import CallDep
from sump.kit.errors import Problem
from sump.kit.forms import FormErrors, identified, validated
from sump.kit.transactions import DbSession

router = APIRouter()
SIGN_UP_FIELDS = ("name", "email", "username", "phone")
INVALID_LINK = "This reset link is invalid or has expired. Ask for a new one."


# ------------------------------------------------------------------------------------------------ sign-up


def _sign_up_or_404(environment: EnvironmentDep) -> None:
    """Sign-up pages exist only where the environment allows sign-up."""
    if not environments.pool(environment).signup_enabled:
        raise Problem(404, "signup_disabled", "Sign-up is turned off for this application.")


@router.get("/sign-up")
async def sign_up_page(
    request: Request, environment: EnvironmentDep, db: DbSession, token: RequestToken = None
) -> Response:
    _sign_up_or_404(environment)
    pending = await requests.waiting(db, environment, request_field({"request": token or ""}))
    return render(request, environment, "sign_up.html", values={"request": pending.token if pending else ""})


@router.post("/sign-up")
async def sign_up(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    form = await read_form(request, call.settings, environment.id)
    _sign_up_or_404(environment)
    pending = await requests.waiting(call.db, environment, request_field(form))
    token = pending.token if pending else ""
    values = {name: form.get(name, "").strip() for name in SIGN_UP_FIELDS} | {"request": token}
    pool = environments.pool(environment)
    try:
        if form.get("password", "") != form.get("passwordConfirm", ""):
            raise FormErrors({"passwordConfirm": "Passwords do not match."})
        fields = {name: values[name] for name in SIGN_UP_FIELDS} | {"password": form.get("password", "")}
        done = await auth.sign_up(call, pool, validated(Signup, fields), **hosted_step(request, call))
    except FormErrors as failed:
        return render(request, environment, "sign_up.html", 400, errors=failed.errors, values=values)
    except Problem as problem:
        await call.roll_back()
        await call.db.refresh(environment)
        errors = dict(problem.errors or {}) or {"form": problem.detail}
        if problem.code == "identifier_taken":
            errors = {"form": TAKEN}
        page = render(request, environment, "sign_up.html", problem.status, errors=errors, values=values)
        return with_retry_after(page, problem)
    if isinstance(done, auth.Unverified):
        return render(request, environment, "notice.html", title="Check your email", message=VERIFY_FIRST)
    if isinstance(done, auth.Challenge):  # second factors are required: on to the enrolment, as after a sign-in
        return await second_step(request, environment, call, pool, done, values)
    return session_response(request, environment, call, done, token)


TAKEN = "An account with these details already exists. Sign in instead, or use other details."
VERIFY_FIRST = "We sent a link to your email address. Follow it to verify the address, then sign in."


# ------------------------------------------------------------------------------------- forgotten password


@router.get("/forgot-password")
async def forgot_page(
    request: Request, environment: EnvironmentDep, db: DbSession, token: RequestToken = None
) -> Response:
    pending = await requests.waiting(db, environment, request_field({"request": token or ""}))
    return render(request, environment, "forgot.html", values={"request": pending.token if pending else ""})


@router.post("/forgot-password")
async def forgot(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    """The same answer whether or not an account has this identifier (`accounts.reset.request_reset`)."""
    form = await read_form(request, call.settings, environment.id)
    pending = await requests.waiting(call.db, environment, request_field(form))
    identifier = form.get("identifier", "").strip()
    values = {"identifier": identifier, "request": pending.token if pending else ""}
    try:
        await resets.request_reset(call, environments.pool(environment), identified(ForgotPassword, identifier))
    except FormErrors as failed:
        return render(request, environment, "forgot.html", 400, errors=failed.errors, values=values)
    except Problem as problem:
        errors = {"form": problem.detail}
        return with_retry_after(
            render(request, environment, "forgot.html", problem.status, errors=errors, values=values), problem
        )
    return render(request, environment, "forgot.html", values=values, sent=resets.FORGOT_ANSWER)


@router.get("/reset-password")
async def reset_page(request: Request, environment: EnvironmentDep, token: str = "") -> Response:
    return render(request, environment, "reset.html", values={"token": token[:256]})


@router.post("/reset-password")
async def reset(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    form = await read_form(request, call.settings, environment.id)
    values = {"token": form.get("token", "")[:256]}
    try:
        if form.get("newPassword", "") != form.get("passwordConfirm", ""):
            raise FormErrors({"passwordConfirm": "Passwords do not match."})
        body = validated(ResetPassword, {"token": values["token"] or "-", "newPassword": form.get("newPassword", "")})
        await auth.reset_password(call, environments.pool(environment), body)
    except FormErrors as failed:
        return render(request, environment, "reset.html", 400, errors=failed.errors, values=values)
    except Problem as problem:
        await call.roll_back()
        await call.db.refresh(environment)
        if problem.errors and "password" in problem.errors:
            errors = {"newPassword": problem.errors["password"]}
        else:
            errors = {"form": INVALID_LINK if problem.code == "invalid_token" else problem.detail}
        page = render(request, environment, "reset.html", problem.status, errors=errors, values=values)
        return with_retry_after(page, problem)
    return render(request, environment, "notice.html", title="Password changed", message=resets.RESET_ANSWER)
