"""Passkeys on the hosted sign-in pages, where the environment names a relying party (`passkeyRpId`, with the
hosted pages' origin among its `passkeyOrigins`): signing in with a passkey alone, and a passkey as the second
step. The options are JSON for the shared script (`/passkeys.js`, the console's), which passes them to the
browser's WebAuthn API and posts its answer as an ordinary CSRF-checked form; every rule is the services'.
Without JavaScript the buttons stay hidden and every other way of signing in works."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import ValidationError

from sump.auth import service as auth
from sump.environments import service as environments
from sump.factors import passkeys
from sump.factors.schemas import AssertionCredential, PasskeySignIn
from sump.hosted import requests
from sump.hosted.sign_in import hosted_step, refused, session_response
from sump.hosted.web import EnvironmentDep, read_form, request_field
from sump.kit.deps import CallDep
from sump.kit.errors import Problem

router = APIRouter()
UNREADABLE = "The passkey's answer could not be read. Try again."
# The console's script, served again here: it is generic (data attributes name the options URL and the form).
SCRIPT = resources.files("sump.console").joinpath("static", "passkeys.js")


@router.get("/passkeys.js")
async def script() -> Response:
    return FileResponse(str(SCRIPT), media_type="text/javascript")


def _options(found: passkeys.Options) -> JSONResponse:
    return JSONResponse({"publicKey": found.public_key, "expiresIn": found.expires_in})


def _refusal(problem: Problem) -> JSONResponse:
    body = {"message": problem.detail, "code": problem.code}
    return JSONResponse(body, status_code=problem.status, headers=problem.headers)


@router.post("/sign-in/passkey/options")
async def login_options(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    """Options to sign in with a passkey alone (username-less: the authenticator offers its passkeys)."""
    await read_form(request, call.settings, environment.id)
    try:
        return _options(await passkeys.login_options(call, environments.pool(environment), None))
    except Problem as problem:
        await call.roll_back()
        return _refusal(problem)


@router.post("/sign-in/factor/options")
async def factor_options(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    """Options to answer the second sign-in step with a passkey (the form carries the first step's challenge)."""
    form = await read_form(request, call.settings, environment.id)
    try:
        return _options(await passkeys.factor_options(call, environments.pool(environment), form.get("challenge", "")))
    except Problem as problem:
        await call.roll_back()
        return _refusal(problem)


def credential_of(text: str) -> AssertionCredential | None:
    try:
        return AssertionCredential.model_validate(json.loads(text))
    except (ValueError, ValidationError):
        return None


@router.post("/sign-in/passkey")
async def login(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    form = await read_form(request, call.settings, environment.id)
    pending = await requests.waiting(call.db, environment, request_field(form))
    values: dict[str, Any] = {"request": pending.token if pending else ""}
    credential = credential_of(form.get("credential", ""))
    try:
        if credential is None:
            raise Problem(400, "invalid_passkey", UNREADABLE)
        body = PasskeySignIn(credential=credential)
        done = await auth.sign_in_with_passkey(call, environments.pool(environment), body, **hosted_step(request, call))
    except Problem as problem:
        return await refused(request, environment, call, problem, values)
    return session_response(request, environment, call, done, values["request"])
