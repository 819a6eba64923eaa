"""Console pages for environments: list, create, detail (settings, rename, custom properties) and delete.

Every change goes through `sump.environments.service`, which refuses tenant accounts below admin (403) and
answers another tenant's environment with 404, as the API does.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import require
from sump.console.web import (
    Actor,
    FormErrors,
    problem_errors,
    property_edits,
    read_form,
    redirect,
    render,
    roll_back,
    validated,
)
from sump.db.tables.environments import Environment
from sump.environment_accounts import service as end_users_service
from sump.environments import policy as environment_policy
from sump.environments import service
from sump.environments.schemas import EnvironmentCreate, EnvironmentSettings, EnvironmentUpdate
from sump.kit.deps import SettingsDep
from sump.kit.errors import Problem
from sump.kit.transactions import DbSession

router = APIRouter()
PAGE_SIZE = 50
SETTINGS_FIELDS = ("passwordMinLength", "passwordMaxLength", "factorPolicy")
# Checkboxes: one left unticked is sent as nothing, and means off.
SETTINGS_SWITCHES = ("signupEnabled", "emailVerification", "requireVerifiedEmail", "magicLinksEnabled")
# The hosted pages' branding: a field left empty clears it.
BRANDING_FIELDS = ("displayName", "logoUrl", "primaryColor")


def can_manage(actor: TenantActor) -> bool:
    return environment_policy.manage(actor) is None


def detail_path(environment_id: uuid.UUID) -> str:
    return f"/console/environments/{environment_id}"


# ----------------------------------------------------------------------------------------------- list


@router.get("/environments")
async def environments_page(
    request: Request, actor: Actor, db: DbSession, after: Annotated[uuid.UUID | None, Query()] = None
) -> Response:
    found = await service.page(db, actor, after, PAGE_SIZE + 1)
    return render(
        request,
        "environments/list.html",
        actor=actor,
        section="environments",
        environments=found[:PAGE_SIZE],
        next_after=found[PAGE_SIZE - 1].id if len(found) > PAGE_SIZE else None,
        after=after,
        can_manage=can_manage(actor),
    )


# --------------------------------------------------------------------------------------------- create


def _new_page(request: Request, actor: TenantActor, status: int = 200, **context: Any) -> Response:
    return render(request, "environments/new.html", status, actor=actor, section="environments", **context)


@router.get("/environments/new")
async def new_environment_page(request: Request, actor: Actor) -> Response:
    require(environment_policy.manage(actor))
    return _new_page(request, actor, values={"signupEnabled": True})


@router.post("/environments/new")
async def create_environment(request: Request, actor: Actor, db: DbSession, settings: SettingsDep) -> Response:
    form = await read_form(request, settings)
    name = form.get("name", "").strip()
    values = {"name": name, "signupEnabled": form.get("signupEnabled") == "on"}
    try:
        body = validated(
            EnvironmentCreate,
            {
                **({"name": name} if name else {}),
                "settings": {"signupEnabled": values["signupEnabled"]},
            },
        )
        environment = await service.create(db, actor, body)
    except FormErrors as invalid:
        return _new_page(request, actor, 400, errors=invalid.errors, values=values)
    except Problem as problem:
        await roll_back(db, actor)
        errors = problem_errors(problem, "name")
        return _new_page(
            request, actor, problem.status, errors=errors.errors or {"form": problem.detail}, values=values
        )
    return redirect(request, detail_path(environment.id), f"Environment {environment.name} created.")


# --------------------------------------------------------------------------------------------- detail


async def _detail(
    request: Request,
    db: AsyncSession,
    actor: TenantActor,
    environment: Environment,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    current = EnvironmentSettings.model_validate(environment.settings)
    shown = {
        "name": environment.name,
        "signupEnabled": current.signup_enabled,
        "passwordMinLength": current.password_min_length,
        "passwordMaxLength": current.password_max_length,
        "factorPolicy": current.factor_policy.value,
        "emailVerification": current.email_verification,
        "requireVerifiedEmail": current.require_verified_email,
        "magicLinksEnabled": current.magic_links_enabled,
        "displayName": current.display_name or "",
        "logoUrl": current.logo_url or "",
        "primaryColor": current.primary_color or "",
        **(values or {}),
    }
    return render(
        request,
        "environments/detail.html",
        status,
        actor=actor,
        section="environments",
        environment=environment,
        end_users=await end_users_service.count(db, actor, environment.id),
        can_manage=can_manage(actor),
        errors=errors,
        values=shown,
    )


@router.get("/environments/{environment_id}")
async def environment_page(request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession) -> Response:
    return await _detail(request, db, actor, await service.get(db, actor, environment_id))


async def _refused(
    request: Request,
    db: AsyncSession,
    actor: TenantActor,
    environment_id: uuid.UUID,
    failed: FormErrors,
    status: int,
    values: dict[str, Any] | None = None,
) -> Response:
    await roll_back(db, actor)
    environment = await service.get(db, actor, environment_id)
    errors = failed.errors if failed.errors else {"form": failed.message or "The form has errors."}
    return await _detail(request, db, actor, environment, status, errors, values)


@router.post("/environments/{environment_id}/settings")
async def save_settings(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    form = await read_form(request, settings)
    values: dict[str, Any] = {name: form.get(name) == "on" for name in SETTINGS_SWITCHES}
    values.update({name: form.get(name, "").strip() for name in (*SETTINGS_FIELDS, *BRANDING_FIELDS)})
    data = {
        **{name: values[name] for name in SETTINGS_SWITCHES},
        **{name: values[name] for name in SETTINGS_FIELDS if values[name]},
        **{name: values[name] or None for name in BRANDING_FIELDS},
    }
    try:
        body = validated(EnvironmentUpdate, {"settings": data})
        await service.update(db, actor, environment_id, body)
    except FormErrors as invalid:
        errors = {key.removeprefix("settings."): message for key, message in invalid.errors.items()}
        if "settings" in errors:  # a rule across fields (min above max) belongs to the minimum
            errors["passwordMinLength"] = errors.pop("settings")
        return await _refused(request, db, actor, environment_id, FormErrors(errors), 400, values)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _refused(request, db, actor, environment_id, problem_errors(problem), problem.status, values)
    return redirect(request, detail_path(environment_id), "Settings saved.")


@router.post("/environments/{environment_id}/rename")
async def rename(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    form = await read_form(request, settings)
    name = form.get("name", "").strip()
    try:
        if not name:
            raise FormErrors({"name": "This field is required."})
        await service.update(db, actor, environment_id, validated(EnvironmentUpdate, {"name": name}))
    except FormErrors as invalid:
        return await _refused(request, db, actor, environment_id, invalid, 400, {"name": name})
    except Problem as problem:
        if problem.status == 404:
            raise
        failed = problem_errors(problem)
        return await _refused(request, db, actor, environment_id, failed, problem.status, {"name": name})
    return redirect(request, detail_path(environment_id), f"Environment renamed to {name}.")


@router.post("/environments/{environment_id}/properties")
async def save_properties(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    form = await read_form(request, settings)
    environment = await service.get(db, actor, environment_id)
    try:
        changes, deleted = property_edits(form, environment.custom_properties)
        for key in deleted:
            await service.delete_property(db, actor, environment_id, key)
        if changes:
            await service.set_properties(db, actor, environment_id, changes)
    except FormErrors as invalid:
        return await _refused(request, db, actor, environment_id, invalid, 400)
    except Problem as problem:
        if problem.status == 404:
            raise
        failed = FormErrors({"properties": problem.detail})
        return await _refused(request, db, actor, environment_id, failed, problem.status)
    return redirect(request, detail_path(environment_id), "Custom properties saved.")


# --------------------------------------------------------------------------------------------- delete


@router.get("/environments/{environment_id}/delete")
async def delete_page(request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession) -> Response:
    environment = await service.get(db, actor, environment_id)
    require(environment_policy.manage(actor))
    return render(
        request,
        "environments/delete.html",
        actor=actor,
        section="environments",
        environment=environment,
        end_users=await end_users_service.count(db, actor, environment.id),
    )


@router.post("/environments/{environment_id}/delete")
async def delete_environment(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    await read_form(request, settings)
    await service.delete(db, actor, environment_id)
    return redirect(request, "/console/environments", "Environment deleted")
