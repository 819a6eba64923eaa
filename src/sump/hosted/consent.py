"""The consent page: a third-party application asks the signed-in end user for some of their information.

Allow records the consent (`oidc.flow.grant_consent`) and lets the request go on; Deny ends it, and the browser
goes back to the application with `error=access_denied` (`oidc.flow.deny`): the only redirect to another site
that a hosted page makes, to the redirect URI the request was registered and checked with.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

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
)
from sump.kit.deps import CallDep, SettingsDep
from sump.kit.transactions import DbSession
from sump.oidc import flow

router = APIRouter()
# What each scope lets the application know, in the words of the consent page.
SCOPE_WORDS = {
    "openid": "Know that it is you: your account's identifier in this application",
    "profile": "Your name",
    "email": "Your email address, and whether it is verified",
    "phone": "Your phone number",
    "offline_access": "Keep access while you are away, until you sign out or revoke it",
}


def described(scopes: list[str]) -> list[str]:
    return [SCOPE_WORDS.get(scope, f"Use “{scope}”") for scope in scopes]


@router.get("/consent")
async def consent_page(
    request: Request,
    environment: EnvironmentDep,
    db: DbSession,
    settings: SettingsDep,
    token: RequestToken = None,
) -> Response:
    pending = await requests.waiting(db, environment, request_field({"request": token or ""}))
    if pending is None:
        raise requests.unknown_request()
    found = await signed_in(request, db, settings, environment)
    if found is None:
        return redirect(request, environment, f"{base_path(environment.id)}/sign-in?{requests.query(pending.token)}")
    return render(
        request,
        environment,
        "consent.html",
        values={"request": pending.token},
        pending=pending,
        account=found[1],
        scopes=described(pending.pending.scopes),
    )


@router.post("/consent")
async def consent(request: Request, environment: EnvironmentDep, call: CallDep) -> Response:
    form = await read_form(request, call.settings, environment.id)
    pending = await requests.waiting(call.db, environment, request_field(form))
    if pending is None:
        raise requests.unknown_request()
    found = await signed_in(request, call.db, call.settings, environment)
    if found is None:
        return redirect(request, environment, f"{base_path(environment.id)}/sign-in?{requests.query(pending.token)}")
    if form.get("decision") == "allow":
        await flow.grant_consent(call, environment, pending.token, found[1])
        return redirect(request, environment, requests.continue_url(environment.id, pending.token))
    back = await flow.deny(call, environment, pending.token)
    return RedirectResponse(back, status_code=303)
