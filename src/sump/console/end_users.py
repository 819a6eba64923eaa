"""Console pages for the end users of one environment: searchable list, create, detail with every action.

Every page loads the environment through `sump.environments.service` (another tenant's answers 404) and acts
through `sump.environment_accounts.service`, which lets any tenant account read and only owners and admins
change (403), as in the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import ImmutableMultiDict

from sump.access.actors import EnvironmentActor, TenantActor
from sump.console.environments import can_manage
from sump.console.web import (
    Actor,
    FormErrors,
    optional,
    problem_errors,
    property_edits,
    read_form,
    redirect,
    render,
    roll_back,
    validated,
)
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.environment_accounts import invitations, service
from sump.environment_accounts.schemas import EndUserCreate, Filters
from sump.environments import service as environments
from sump.environments.schemas import EnvironmentSettings
from sump.kit.deps import CallDep, HasherDep, SettingsDep
from sump.kit.errors import Problem
from sump.kit.transactions import DbSession
from sump.tenant_accounts.schemas import AccountUpdate, EmailChange, PhoneChange, UsernameChange

router = APIRouter(prefix="/environments/{environment_id}/users")
PAGE_SIZE = 50
MAX_QUERY = 100
PROFILE_FIELDS = ("name", "username", "email", "phone", "avatarUrl")
CHOOSE_HOW = "Enter a password, or choose to send an invitation email."
CHOICES = 200  # environments offered by the switcher on the list
IDENTIFIERS = {"email": EmailChange, "username": UsernameChange, "phone": PhoneChange}


async def _acting(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> EnvironmentActor:
    return EnvironmentActor(await environments.get(db, actor, environment_id), manager=actor)


def _list_path(environment_id: uuid.UUID) -> str:
    return f"/console/environments/{environment_id}/users"


def _user_path(environment_id: uuid.UUID, account_id: uuid.UUID) -> str:
    return f"{_list_path(environment_id)}/{account_id}"


# ----------------------------------------------------------------------------------------------- list


@router.get("")
async def end_users_page(
    request: Request,
    environment_id: uuid.UUID,
    actor: Actor,
    db: DbSession,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
    after: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    acting = await _acting(db, actor, environment_id)
    q = q.strip()
    found = await service.page(db, acting, Filters(q=q or None), after, PAGE_SIZE + 1)
    fragment = bool(request.headers.get("hx-request")) and not request.headers.get("hx-history-restore-request")
    response = render(
        request,
        "end_users/results.html" if fragment else "end_users/list.html",
        actor=actor,
        section="end-users",
        environment=acting.environment,
        accounts=found[:PAGE_SIZE],
        next_after=found[PAGE_SIZE - 1].id if len(found) > PAGE_SIZE else None,
        after=after,
        q=q,
        can_manage=can_manage(actor),
        choices=[] if fragment else await environments.page(db, actor, None, CHOICES),
    )
    response.headers["Vary"] = "HX-Request"
    return response


# --------------------------------------------------------------------------------------------- create


@router.get("/new")
async def new_end_user_page(request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession) -> Response:
    acting = await _acting(db, actor, environment_id)
    return _new_page(request, actor, acting, values={"passwordChoice": "set"})


def _new_page(
    request: Request, actor: TenantActor, acting: EnvironmentActor, status: int = 200, **context: Any
) -> Response:
    policy = EnvironmentSettings.model_validate(acting.environment.settings)
    return render(
        request,
        "end_users/new.html",
        status,
        actor=actor,
        section="end-users",
        environment=acting.environment,
        can_manage=can_manage(actor),
        password_min=policy.password_min_length,
        **context,
    )


def _create_body(form: Mapping[str, str], by_email: bool) -> EndUserCreate:
    """The new end user from the form; every field's message at once, the password's included."""
    errors: dict[str, str] = {}
    password = None if by_email else form.get("password", "")
    if password == "":
        errors["password"] = CHOOSE_HOW
    elif password is not None and form.get("passwordConfirm", "") != password:
        errors["passwordConfirm"] = "Passwords do not match."
    try:
        body = validated(
            EndUserCreate, {**optional(form, *PROFILE_FIELDS), **({"password": password} if password else {})}
        )
    except FormErrors as invalid:
        raise FormErrors({**invalid.errors, **errors}) from invalid
    if errors:
        raise FormErrors(errors)
    return body


@router.post("/new")
async def create_end_user(
    request: Request,
    environment_id: uuid.UUID,
    actor: Actor,
    db: DbSession,
    settings: SettingsDep,
    hasher: HasherDep,
    call: CallDep,
) -> Response:
    form = await read_form(request, settings)
    acting = await _acting(db, actor, environment_id)
    by_email = form.get("passwordChoice") == "email"
    values = {name: form.get(name, "").strip() for name in PROFILE_FIELDS}
    values["passwordChoice"] = "email" if by_email else "set"
    try:
        body = _create_body(form, by_email)
        account = await service.create(db, hasher, acting, body)
        if by_email:
            await invitations.invite(call, acting, account.id)
    except FormErrors as invalid:
        return _new_page(request, actor, acting, 400, errors=invalid.errors, values=values)
    except Problem as problem:
        await roll_back(db, actor)
        acting = await _acting(db, actor, environment_id)
        failed = problem_errors(problem)
        errors = failed.errors or {"form": problem.detail}
        return _new_page(request, actor, acting, problem.status, errors=errors, values=values)
    if by_email:
        flash = f"End user {account.name} created; an invitation to choose a password is on its way to {account.email}."
    else:
        flash = f"End user {account.name} created."
    return redirect(request, _user_path(environment_id, account.id), flash)


# --------------------------------------------------------------------------------------------- detail


async def _detail(
    request: Request,
    actor: TenantActor,
    acting: EnvironmentActor,
    account: EnvironmentAccount,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    shown = {
        "name": account.name,
        "avatarUrl": account.avatar_url or "",
        "email": account.email,
        "username": account.username,
        "phone": account.phone or "",
        **(values or {}),
    }
    return render(
        request,
        "end_users/detail.html",
        status,
        actor=actor,
        section="end-users",
        environment=acting.environment,
        account=account,
        can_manage=can_manage(actor),
        errors=errors,
        values=shown,
    )


@router.get("/{account_id}")
async def end_user_page(
    request: Request, environment_id: uuid.UUID, account_id: uuid.UUID, actor: Actor, db: DbSession
) -> Response:
    acting = await _acting(db, actor, environment_id)
    return await _detail(request, actor, acting, await service.get(db, acting, account_id, write=False))


@dataclass(frozen=True)
class Posted:
    """A CSRF-checked form about one end user, with the environment loaded for the signed-in account."""

    request: Request
    db: AsyncSession
    actor: TenantActor
    acting: EnvironmentActor
    account_id: uuid.UUID
    form: ImmutableMultiDict[str, str]

    def done(self, flash: str) -> Response:
        return redirect(self.request, _user_path(self.acting.environment.id, self.account_id), flash)

    async def refused(
        self, failed: FormErrors | Problem, values: dict[str, Any] | None = None, field: str | None = None
    ) -> Response:
        """The detail page again, after undoing the request's changes, with the refusal next to its fields
        (or next to `field`). Another tenant's or a deleted account stays a 404."""
        status = 400
        if isinstance(failed, Problem):
            if failed.status == 404 or failed.code == "step_up_required":
                raise failed  # the step-up page leads back here
            status, failed = failed.status, FormErrors({field: failed.detail}) if field else problem_errors(failed)
        environment_id = self.acting.environment.id  # read before the rollback expires it
        await roll_back(self.db, self.actor)
        acting = await _acting(self.db, self.actor, environment_id)
        account = await service.get(self.db, acting, self.account_id, write=False)
        errors = failed.errors or {"form": failed.message or "The form has errors."}
        return await _detail(self.request, self.actor, acting, account, status, errors, values)


async def _posted(
    request: Request,
    environment_id: uuid.UUID,
    account_id: uuid.UUID,
    actor: Actor,
    db: DbSession,
    settings: SettingsDep,
) -> Posted:
    form = await read_form(request, settings)
    return Posted(request, db, actor, await _acting(db, actor, environment_id), account_id, form)


PostedForm = Annotated[Posted, Depends(_posted)]


@router.post("/{account_id}/profile")
async def save_profile(posted: PostedForm) -> Response:
    values = {name: posted.form.get(name, "").strip() for name in ("name", "avatarUrl")}
    try:
        if not values["name"]:
            raise FormErrors({"name": "This field is required."})
        body = validated(AccountUpdate, {"name": values["name"], "avatarUrl": values["avatarUrl"] or None})
        await service.update(
            posted.db, posted.acting, posted.account_id, body.model_dump(include=body.model_fields_set)
        )
    except (FormErrors, Problem) as failed:
        return await posted.refused(failed, values)
    return posted.done("Profile saved.")


@router.post("/{account_id}/identifiers")
async def save_identifiers(posted: PostedForm, call: CallDep) -> Response:
    """An owner or admin changes the end user's identifiers (no password of theirs is needed); the service tells
    the old address and ends earlier reset links."""
    values = {name: posted.form.get(name, "").strip() for name in IDENTIFIERS}
    try:
        account = await service.get(posted.db, posted.acting, posted.account_id, write=True)
        errors: dict[str, str] = {}
        changes: dict[str, str] = {}
        for name, model in IDENTIFIERS.items():
            if not values[name]:
                if getattr(account, name) is not None:
                    errors[name] = "This field is required." if name != "phone" else "A phone number cannot be removed."
                continue
            try:
                changes[name] = getattr(validated(model, {name: values[name]}), name)
            except FormErrors as invalid:
                errors.update(invalid.errors)
        if errors:
            raise FormErrors(errors)
        for name, value in changes.items():
            await service.change_identifier(call, posted.acting, posted.account_id, name, value)
    except (FormErrors, Problem) as failed:
        return await posted.refused(failed, values)
    return posted.done("Identifiers saved.")


@router.post("/{account_id}/properties")
async def save_properties(posted: PostedForm) -> Response:
    try:
        account = await service.get(posted.db, posted.acting, posted.account_id, write=True)
        changes, deleted = property_edits(posted.form, account.custom_properties)
        for key in deleted:
            await service.delete_property(posted.db, posted.acting, posted.account_id, key)
        if changes:
            await service.set_properties(posted.db, posted.acting, posted.account_id, changes)
    except (FormErrors, Problem) as failed:
        return await posted.refused(failed, field="properties")
    return posted.done("Custom properties saved.")


@router.post("/{account_id}/metadata")
async def save_metadata(posted: PostedForm) -> Response:
    """The metadata form (rows like custom properties'); saved whole, by owners and admins only."""
    try:
        account = await service.get(posted.db, posted.acting, posted.account_id, write=True)
        try:
            changes, deleted = property_edits(posted.form, account.metadata_)
        except FormErrors as invalid:
            raise FormErrors({"metadata": " ".join(invalid.errors.values())}) from invalid
        if changes or deleted:
            kept = {key: value for key, value in account.metadata_.items() if key not in deleted}
            await service.update(posted.db, posted.acting, posted.account_id, {"metadata": {**kept, **changes}})
    except (FormErrors, Problem) as failed:
        return await posted.refused(failed, field="metadata")
    return posted.done("Metadata saved.")


# -------------------------------------------------------------------------------------------- actions


@router.post("/{account_id}/disable")
async def disable(posted: PostedForm) -> Response:
    await service.set_disabled(posted.db, posted.acting, posted.account_id, True)
    return posted.done("End user disabled; their sessions have ended.")


@router.post("/{account_id}/enable")
async def enable(posted: PostedForm) -> Response:
    await service.set_disabled(posted.db, posted.acting, posted.account_id, False)
    return posted.done("End user enabled.")


@router.post("/{account_id}/revoke-sessions")
async def revoke_sessions(posted: PostedForm) -> Response:
    revoked = await service.revoke_sessions(posted.db, posted.acting, posted.account_id)
    return posted.done(f"{revoked} session{'' if revoked == 1 else 's'} revoked.")


@router.post("/{account_id}/password-reset")
async def send_password_reset(posted: PostedForm) -> Response:
    await service.send_password_reset(posted.db, posted.acting, posted.account_id)
    return posted.done("Password reset email sent.")


@router.get("/{account_id}/delete")
async def delete_page(
    request: Request, environment_id: uuid.UUID, account_id: uuid.UUID, actor: Actor, db: DbSession
) -> Response:
    acting = await _acting(db, actor, environment_id)
    account = await service.get(db, acting, account_id, write=True)
    return render(
        request,
        "end_users/delete.html",
        actor=actor,
        section="end-users",
        environment=acting.environment,
        account=account,
    )


@router.post("/{account_id}/delete")
async def delete_end_user(posted: PostedForm) -> Response:
    await service.delete(posted.db, posted.acting, posted.account_id)
    return redirect(posted.request, _list_path(posted.acting.environment.id), "End user deleted")
