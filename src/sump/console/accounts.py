"""Tenant accounts in the console: the list with its pending invitations (resent or revoked), inviting or creating
an account, and one account's role, status and deletion.

The same service calls as `/api/v1/tenants/{tenantId}/accounts/…`, so the role hierarchy and the last-owner
rule hold here too: the pages only leave out or disable what the service would refuse, and say why.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sump.access.policy import require
from sump.access.pools import tenant_pool
from sump.accounts import verification
from sump.console.factors import step_up_first
from sump.console.web import (
    Actor,
    FormErrors,
    optional,
    parse_id,
    problem_errors,
    read_form,
    redirect,
    render,
    roll_back,
    validated,
)
from sump.db.base import utcnow
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.kit.deps import CallDep, HashSlot, SettingsDep
from sump.kit.errors import Problem, not_found
from sump.kit.transactions import DbSession
from sump.tenant_accounts import invitations
from sump.tenant_accounts import policy as account_policy
from sump.tenant_accounts import service as accounts
from sump.tenant_accounts.schemas import AccountCreate, InvitationCreate

router = APIRouter()
PAGE_SIZE = 50
NEW_FIELDS = ("name", "username", "email", "phone")


def _account_id(value: str) -> uuid.UUID:
    account_id = parse_id(value)
    if account_id is None:
        raise not_found("account")
    return account_id


# ---------------------------------------------------------------------------------------------------- list


@router.get("/accounts")
async def list_accounts(
    request: Request, actor: Actor, db: DbSession, after: Annotated[str | None, Query()] = None
) -> Response:
    start = parse_id(after) if after else None
    rows = await accounts.page(db, actor, start, PAGE_SIZE + 1)
    may_manage = account_policy.manage_accounts(actor) is None
    return render(
        request,
        "accounts/list.html",
        actor=actor,
        section="accounts",
        accounts=rows[:PAGE_SIZE],
        next_after=rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None,
        can_invite=bool(account_policy.grantable_roles(actor)),
        invitations=await invitations.pending(db, actor) if may_manage else [],
        grantable={role.value for role in account_policy.grantable_roles(actor)},
        now=utcnow(),
    )


@router.post("/invitations/{invitation_id}/resend")
async def resend_invitation(request: Request, actor: Actor, call: CallDep, invitation_id: str) -> Response:
    await read_form(request, call.settings)
    invitation = await invitations.resend(
        call, actor, _invitation_id(invitation_id), template=invitations.CONSOLE_TEMPLATE
    )
    flash = f"A new invitation is on its way to {invitation.email}; the link sent before no longer works."
    return redirect(request, "/console/accounts", flash)


@router.post("/invitations/{invitation_id}/revoke")
async def revoke_invitation(request: Request, actor: Actor, call: CallDep, invitation_id: str) -> Response:
    await read_form(request, call.settings)
    await invitations.revoke(call, actor, _invitation_id(invitation_id))
    return redirect(request, "/console/accounts", "The invitation was revoked: its link no longer works.")


@router.post("/accounts/{account_id}/invitation")
async def reinvite(request: Request, actor: Actor, call: CallDep, account_id: str) -> Response:
    """An account invited before invitations existed (no password yet) gets a real invitation."""
    await read_form(request, call.settings)
    invitation = await invitations.reinvite(call, actor, _account_id(account_id))
    return redirect(request, "/console/accounts", f"An invitation is on its way to {invitation.email}.")


def _invitation_id(value: str) -> uuid.UUID:
    invitation_id = parse_id(value)
    if invitation_id is None:
        raise not_found("invitation")
    return invitation_id


# ----------------------------------------------------------------------------------------------------- new


def _new_page(
    request: Request,
    actor: Actor,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "accounts/new.html",
        status,
        actor=actor,
        section="accounts",
        roles=account_policy.grantable_roles(actor),
        values=values or {"role": TenantRole.USER.value, "access": "invite"},
        errors=errors,
    )


@router.get("/accounts/new")
async def new_account_page(request: Request, actor: Actor) -> Response:
    require(account_policy.manage_accounts(actor))
    return _new_page(request, actor)


@router.post("/accounts/new", dependencies=[HashSlot])
async def create_account(request: Request, actor: Actor, call: CallDep) -> Response:
    """Invites an address into a role (the invitee chooses name, username and password from the console's
    invitation email), or creates the account with a password now."""
    db = call.db
    form = await read_form(request, call.settings)
    require(account_policy.manage_accounts(actor))
    values = {name: form.get(name, "").strip() for name in NEW_FIELDS}
    values["role"] = form.get("role", TenantRole.USER.value)
    values["access"] = "password" if form.get("access") == "password" else "invite"
    invite = values["access"] == "invite"
    data: dict[str, object] = {
        **optional(form, *NEW_FIELDS),
        "roles": [{"role": values["role"], "target": "tenant", "targetId": str(actor.tenant_id)}],
    }
    try:
        if invite:
            asked = validated(InvitationCreate, {"email": values["email"], "role": values["role"]})
            await invitations.invite(call, actor, asked, template=invitations.CONSOLE_TEMPLATE)
            flash = f"An invitation is on its way to {asked.email}: they join as {asked.role.value} once they accept."
            return redirect(request, "/console/accounts", flash)
        if not form.get("password"):
            raise FormErrors({"password": "Enter a password, or choose to send an invitation email."})
        if form.get("password") != form.get("passwordConfirm"):
            raise FormErrors({"passwordConfirm": "Passwords do not match."})
        data["password"] = form["password"]
        body = validated(AccountCreate, data)
        account = await accounts.create(db, call.hasher, actor, body)
    except FormErrors as invalid:
        errors = {("role" if key.startswith("roles") else key): message for key, message in invalid.errors.items()}
        return _new_page(request, actor, values, errors, 400)
    except Problem as problem:
        step_up_first(problem)
        await roll_back(db, actor)
        failed = problem_errors(problem)
        errors = {("role" if key.startswith("roles") else key): message for key, message in failed.errors.items()}
        if failed.message:
            errors["form"] = failed.message
        return _new_page(request, actor, values, errors, problem.status)
    return redirect(request, f"/console/accounts/{account.id}", f"{account.name} was added as {account.role.value}.")


# -------------------------------------------------------------------------------------------------- detail


async def _target(db: DbSession, actor: Actor, account_id: str) -> TenantAccount:
    return await accounts.get(db, actor, _account_id(account_id))


@router.get("/accounts/{account_id}")
async def account_page(request: Request, actor: Actor, db: DbSession, account_id: str) -> Response:
    target = await _target(db, actor, account_id)
    refusal = await accounts.refusal(db, actor, target)
    return render(
        request,
        "accounts/detail.html",
        actor=actor,
        section="accounts",
        account=target,
        refusal=refusal,
        may_send_reset=accounts.may_send_reset(actor, target),
        may_mark_verified=account_policy.manage_accounts(actor) is None
        and account_policy.manage(actor, target) is None,
        roles=account_policy.grantable_roles(actor),
        values={"role": target.role.value},
    )


@router.post("/accounts/{account_id}/role")
async def change_role(
    request: Request, actor: Actor, db: DbSession, settings: SettingsDep, account_id: str
) -> Response:
    form = await read_form(request, settings)
    require(account_policy.manage_accounts(actor))
    target_id = _account_id(account_id)
    try:
        role = TenantRole(form.get("role", ""))
    except ValueError:
        raise Problem(400, "validation_failed", "Choose one of the roles offered.") from None
    await accounts.change_role(db, actor, target_id, role)
    target = await accounts.get(db, actor, target_id)
    return redirect(request, f"/console/accounts/{target_id}", f"{target.name} is now {role.value}.")


@router.post("/accounts/{account_id}/disable")
async def disable(request: Request, actor: Actor, db: DbSession, settings: SettingsDep, account_id: str) -> Response:
    return await _set_disabled(request, actor, db, settings, account_id, disabled=True)


@router.post("/accounts/{account_id}/enable")
async def enable(request: Request, actor: Actor, db: DbSession, settings: SettingsDep, account_id: str) -> Response:
    return await _set_disabled(request, actor, db, settings, account_id, disabled=False)


async def _set_disabled(
    request: Request, actor: Actor, db: DbSession, settings: SettingsDep, account_id: str, *, disabled: bool
) -> Response:
    await read_form(request, settings)
    require(account_policy.manage_accounts(actor))
    target_id = _account_id(account_id)
    await accounts.set_disabled(db, actor, target_id, disabled)
    target = await accounts.get(db, actor, target_id)
    what = "disabled; their sessions have ended" if disabled else "enabled"
    return redirect(request, f"/console/accounts/{target_id}", f"{target.name} is {what}.")


@router.post("/accounts/{account_id}/verification")
async def send_verification(request: Request, actor: Actor, call: CallDep, account_id: str) -> Response:
    """One's own email: a new verification link (the limits of `…/verify-email/resend`)."""
    await read_form(request, call.settings)
    if _account_id(account_id) != actor.account.id:
        raise not_found("account")
    await verification.resend(call, tenant_pool(actor.tenant_id), actor.account)
    flash = f"A verification link is on its way to {actor.account.email}."
    return redirect(request, f"/console/accounts/{actor.account.id}", flash)


@router.post("/accounts/{account_id}/email-verified")
async def mark_email_verified(request: Request, actor: Actor, call: CallDep, account_id: str) -> Response:
    await read_form(request, call.settings)
    target_id = _account_id(account_id)
    await accounts.mark_email_verified(call, actor, target_id)
    return redirect(request, f"/console/accounts/{target_id}", "The email address is marked verified.")


@router.post("/accounts/{account_id}/password-reset")
async def send_password_reset(
    request: Request, actor: Actor, db: DbSession, settings: SettingsDep, account_id: str
) -> Response:
    await read_form(request, settings)
    target = await accounts.send_password_reset(db, actor, _account_id(account_id))
    verb = "set" if target.password_hash is None else "reset"
    return redirect(
        request, f"/console/accounts/{target.id}", f"An email to {verb} a password is on its way to {target.email}."
    )


@router.get("/accounts/{account_id}/delete")
async def delete_page(request: Request, actor: Actor, db: DbSession, account_id: str) -> Response:
    require(account_policy.manage_accounts(actor))
    target = await _target(db, actor, account_id)
    refusal = await accounts.refusal(db, actor, target)
    return render(request, "accounts/delete.html", actor=actor, section="accounts", account=target, refusal=refusal)


@router.post("/accounts/{account_id}/delete")
async def delete(request: Request, actor: Actor, db: DbSession, settings: SettingsDep, account_id: str) -> Response:
    await read_form(request, settings)
    require(account_policy.manage_accounts(actor))
    target = await _target(db, actor, account_id)
    name = target.name
    await accounts.delete(db, actor, target.id)
    return redirect(request, "/console/accounts", f"{name} was deleted.")
