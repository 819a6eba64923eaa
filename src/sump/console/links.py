"""Console pages that emailed links of tenant accounts open: verifying an email (or confirming a new one),
cancelling an email change, and accepting an invitation. A link's page shows a form; only posting it (with
the CSRF token, no JavaScript needed) uses the link, so a mail scanner that fetches links uses up nothing.

They call the same services as `/api/v1/auth/tenants/{tenantId}/…`, with the same limits and audit events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sump.access.pools import Pool
from sump.accounts import verification
from sump.accounts.pools import load_pool
from sump.console.web import (
    FormErrors,
    parse_id,
    problem_errors,
    read_form,
    redirect,
    render,
    signed_in_or_none,
    validated,
)
from sump.db.tables.links import Invitation
from sump.db.tables.sessions import AccountType
from sump.kit.call import Call
from sump.kit.deps import CallDep
from sump.kit.errors import Problem
from sump.tenant_accounts import invitations as tenant_invitations
from sump.tenant_accounts.schemas import AcceptInvitation

router = APIRouter()
EXPIRED = "This link is invalid, used or expired."


@dataclass(frozen=True)
class LinkPage:
    title: str
    text: str
    button: str
    action: str


PAGES = {
    "verify-email": LinkPage(
        "Verify your email address",
        "Confirm that this email address is yours: it becomes your account's verified email.",
        "Verify my email address",
        "/console/verify-email",
    ),
    "cancel-email-change": LinkPage(
        "Cancel the email change",
        "Cancel the change of your account's email address: this address stays (or becomes again) its email, "
        "and every session of the account ends.",
        "Cancel the change",
        "/console/cancel-email-change",
    ),
}


async def tenant_pool_of(call: CallDep, tenant_text: str) -> Pool:
    """The pool of the link's tenant; a link with a broken tenant is as good as an expired one."""
    tenant_id = parse_id(tenant_text.strip())
    if tenant_id is None:
        raise FormErrors({"form": EXPIRED})
    try:
        return await load_pool(call.db, AccountType.TENANT_ACCOUNT, tenant_id)
    except Problem as problem:
        raise FormErrors({"form": EXPIRED}) from problem


def _page(request: Request, name: str, values: dict[str, str], status: int = 200, **errors: str) -> Response:
    return render(request, "link.html", status, page=PAGES[name], values=values, errors=errors)


async def _next_page(request: Request, call: CallDep) -> str:
    """Where a followed link leads: the dashboard for a signed-in browser, else the sign-in page."""
    signed_in = await signed_in_or_none(request, call.db, call.settings)
    return "/console/" if signed_in is not None else "/console/login"


@router.get("/verify-email")
async def verify_page(request: Request, tenant: str = "", token: str = "") -> Response:
    return _page(request, "verify-email", {"tenant": tenant, "token": token})


@router.post("/verify-email")
async def verify(request: Request, call: CallDep) -> Response:
    return await _follow(request, call, "verify-email", verification.verify, verification.VERIFIED_ANSWER)


@router.get("/cancel-email-change")
async def cancel_page(request: Request, tenant: str = "", token: str = "") -> Response:
    return _page(request, "cancel-email-change", {"tenant": tenant, "token": token})


@router.post("/cancel-email-change")
async def cancel(request: Request, call: CallDep) -> Response:
    return await _follow(
        request, call, "cancel-email-change", verification.cancel_change, verification.CANCELLED_ANSWER
    )


async def _follow(
    request: Request,
    call: CallDep,
    name: str,
    use: Callable[[Call, Pool, str], Awaitable[object]],
    answer: str,
) -> Response:
    """Uses the posted link through `use` and goes on with `answer`; a broken or spent link is its page again."""
    form = await read_form(request, call.settings)
    values = {"tenant": form.get("tenant", ""), "token": form.get("token", "")}
    try:
        pool = await tenant_pool_of(call, values["tenant"])
        await use(call, pool, values["token"] or "-")
    except FormErrors as failed:
        return _page(request, name, values, 400, **failed.errors)
    except Problem as problem:
        await call.roll_back()
        message = EXPIRED if problem.code == "invalid_token" else problem.detail
        return _page(request, name, values, problem.status, form=message)
    return redirect(request, await _next_page(request, call), answer)


# ------------------------------------------------------------------------------------------- invitations

ACCEPT_FIELDS = ("name", "username")
INVITATION_GONE = "This invitation is invalid, used, revoked or expired. Ask for a new one."


def _accept_page(
    request: Request,
    values: dict[str, str],
    status: int = 200,
    errors: dict[str, str] | None = None,
    invited: Invitation | None = None,
) -> Response:
    return render(request, "accept_invitation.html", status, values=values, errors=errors, invited=invited)


@router.get("/accept-invitation")
async def accept_page(request: Request, call: CallDep, tenant: str = "", token: str = "") -> Response:
    """Shows the invited address and role; a link that no longer works says so at once."""
    values = {"tenant": tenant, "token": token}
    try:
        pool = await tenant_pool_of(call, tenant)
        invited = await tenant_invitations.describe(call.db, pool, token or "-")
    except (FormErrors, Problem):
        return _accept_page(request, values, errors={"form": INVITATION_GONE})
    return _accept_page(request, values, invited=invited)


@router.post("/accept-invitation")
async def accept(request: Request, call: CallDep) -> Response:
    form = await read_form(request, call.settings)
    values = {name: form.get(name, "").strip() for name in ("tenant", "token", *ACCEPT_FIELDS)}
    try:
        pool = await tenant_pool_of(call, values["tenant"])
        if form.get("password", "") != form.get("passwordConfirm", ""):
            raise FormErrors({"passwordConfirm": "Passwords do not match."})
        data = {**{name: values[name] for name in ACCEPT_FIELDS}, "token": values["token"] or "-"}
        body = validated(AcceptInvitation, {**data, "password": form.get("password", "")})
        await tenant_invitations.accept(call, pool, body)
    except FormErrors as failed:
        return _accept_page(request, values, 400, failed.errors)
    except Problem as problem:
        await call.roll_back()
        refused = problem_errors(problem)
        errors = dict(refused.errors)
        if problem.code == "invalid_token":
            errors = {"form": INVITATION_GONE}
        elif refused.message:
            errors["form"] = refused.message
        return _accept_page(request, values, problem.status, errors)
    return redirect(request, "/console/login", "Your account is ready: sign in with your email or username.")
