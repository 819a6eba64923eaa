"""Console pages for OAuth clients: an environment's applications and machine clients (its "Clients" tab), and
the tenant's automation clients (their own page). List, register (the secret shown once, in a read-only field
that is easy to copy), edit what the client's purpose has, rotate the secret with an overlap, delete after a
confirmation page.

Everything goes through `sump.clients.service`, as the API does: any tenant account reads; owners and admins
change an environment's clients, owners the automation clients (403 otherwise); another tenant's objects answer
404. A control is enabled when `sump.clients.policy` allows it, or disabled with the refusal's sentence.
"""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import ImmutableMultiDict

from sump.access.actors import TenantActor
from sump.clients import service
from sump.clients.schemas import (
    AUTOMATION_PERMISSIONS,
    OIDC_SCOPES,
    ApplicationCreate,
    AutomationClientCreate,
    AutomationClientUpdate,
    ClientUpdate,
    MachineCreate,
    SecretRotation,
)
from sump.console.factors import step_up_first
from sump.console.web import Actor, FormErrors, problem_errors, read_form, redirect, render, roll_back, validated
from sump.db.tables.clients import Client, ClientPurpose
from sump.db.tables.environments import Environment
from sump.environments import service as environments
from sump.kit.deps import SettingsDep
from sump.kit.errors import Problem
from sump.kit.transactions import DbSession
from sump.organizations.service import catalog

router = APIRouter()
ENVIRONMENT = "/environments/{environment_id}/clients"
AUTOMATION = "/automation-clients"
Scope = uuid.UUID | None  # an environment, or None: the tenant's automation clients
ClientPk = Annotated[uuid.UUID, Path(alias="client_pk")]


def base_path(environment_id: Scope) -> str:
    return f"/console/environments/{environment_id}/clients" if environment_id else "/console/automation-clients"


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _errors(failed: FormErrors | Problem) -> tuple[int, dict[str, str]]:
    """A refusal's status and its messages by the page's field names (`redirectUris.0` is `redirectUris`)."""
    if isinstance(failed, Problem):
        step_up_first(failed)
        if failed.status == 404:
            raise failed
        status, failed = failed.status, problem_errors(failed)
    else:
        status = 400
    errors: dict[str, str] = {}
    for field, message in failed.errors.items():
        name = next((part for part in field.split(".") if part not in {"application", "machine"}), "form")
        errors.setdefault(name if not name.isdigit() else "form", message)
    return status, errors or {"form": failed.message or "The form has errors."}


async def _context(db: AsyncSession, actor: TenantActor, environment_id: Scope) -> dict[str, Any]:
    environment: Environment | None = None
    permissions = sorted(AUTOMATION_PERMISSIONS)
    if environment_id is not None:
        environment = await environments.get(db, actor, environment_id)
        permissions = [permission.name for permission in await catalog.permissions(db, actor, environment.id)]
    return {
        "actor": actor,
        "section": "environments" if environment else "automation-clients",
        "environment": environment,
        "base": base_path(environment_id),
        "scopes": OIDC_SCOPES,
        "permission_names": permissions,
        "edit": service.may_manage(actor, environment_id),
    }


async def _list(
    request: Request,
    db: AsyncSession,
    actor: TenantActor,
    environment_id: Scope,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    context = await _context(db, actor, environment_id)
    clients = await service.page(db, actor, environment_id, None, 200)
    defaults = {
        "scopes": ["openid"],
        "permissions": [],
        "refresh": True,
        "firstParty": True,
        "idTokenSignedResponseAlg": "RS256",
    }
    return render(
        request,
        "clients/list.html",
        status,
        clients=clients,
        errors=errors,
        values={**defaults, **(values or {})},
        **context,
    )


async def _detail(
    request: Request,
    db: AsyncSession,
    actor: TenantActor,
    environment_id: Scope,
    pk: uuid.UUID,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    template: str = "clients/detail.html",
    secret: str | None = None,
) -> Response:
    context = await _context(db, actor, environment_id)
    client = await service.get(db, actor, environment_id, pk)
    current = {
        "name": client.name,
        "redirectUris": "\n".join(client.redirect_uris),
        "postLogoutRedirectUris": "\n".join(client.post_logout_redirect_uris),
        "scopes": client.scopes,
        "firstParty": client.first_party,
        "idTokenSignedResponseAlg": client.id_token_signed_response_alg,
        "refresh": "refresh_token" in client.grant_types,
        "audience": client.audience or "",
        "permissions": client.permissions,
        "overlapHours": "24",
    }
    return render(
        request,
        template,
        status,
        client=client,
        secret=secret,
        errors=errors,
        values={**current, **(values or {})},
        **context,
    )


def _application_fields(form: ImmutableMultiDict[str, str], algorithm: str | None) -> dict[str, Any]:
    """An application's fields from its form; `algorithm`: the ID tokens' algorithm when the form names none."""
    return {
        "name": form.get("name", ""),
        "redirectUris": _lines(form.get("redirectUris", "")),
        "postLogoutRedirectUris": _lines(form.get("postLogoutRedirectUris", "")),
        "scopes": form.getlist("scopes"),
        "firstParty": form.get("firstParty") == "on",
        "idTokenSignedResponseAlg": form.get("idTokenSignedResponseAlg", algorithm),
        "grantTypes": ["authorization_code", "refresh_token"]
        if form.get("refresh") == "on"
        else ["authorization_code"],
    }


def _shown(fields: dict[str, Any]) -> dict[str, Any]:
    """Form values as the page shows them again (URIs one per line)."""
    shown = dict(fields)
    for name in ("redirectUris", "postLogoutRedirectUris"):
        if isinstance(shown.get(name), list):
            shown[name] = "\n".join(shown[name])
    shown["refresh"] = "refresh_token" in shown.pop("grantTypes", ["refresh_token"])
    shown.pop("purpose", None)
    return shown


# ---------------------------------------------------------------------------------------------- pages


@router.get(ENVIRONMENT)
async def environment_clients(request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession) -> Response:
    return await _list(request, db, actor, environment_id)


@router.get(AUTOMATION)
async def automation_clients(request: Request, actor: Actor, db: DbSession) -> Response:
    return await _list(request, db, actor, None)


async def _register(
    request: Request, db: AsyncSession, actor: TenantActor, environment_id: Scope, settings: SettingsDep
) -> Response:
    form = await read_form(request, settings)
    kind = form.get("purpose", "application") if environment_id else "automation"
    if kind == "machine":
        fields: dict[str, Any] = {
            "purpose": "machine",
            "name": form.get("machineName", ""),
            "audience": form.get("audience", "").strip(),
            "permissions": form.getlist("permissions"),
        }
    elif kind == "automation":
        fields = {"name": form.get("name", ""), "permissions": form.getlist("permissions")}
    else:
        fields = {
            "purpose": "application",
            "kind": form.get("kind", "confidential"),
            **_application_fields(form, "RS256"),
        }
    try:
        if environment_id is None:
            client, secret = await service.create_automation(db, actor, validated(AutomationClientCreate, fields))
        else:
            body: ApplicationCreate | MachineCreate = (
                validated(MachineCreate, fields) if kind == "machine" else validated(ApplicationCreate, fields)
            )
            client, secret = await service.create(db, settings, actor, environment_id, body)
    except (FormErrors, Problem) as failed:
        status, errors = _errors(failed)
        await roll_back(db, actor)
        values = _shown(fields)
        if kind == "machine":  # the machine form's name field is `machineName` (two forms share the page)
            values["machineName"] = values.pop("name")
            errors = {"machineName" if field == "name" else field: message for field, message in errors.items()}
        return await _list(request, db, actor, environment_id, status, errors, values)
    return await _detail(request, db, actor, environment_id, client.id, template="clients/secret.html", secret=secret)


@router.post(ENVIRONMENT + "/new")
async def new_environment_client(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    return await _register(request, db, actor, environment_id, settings)


@router.post(AUTOMATION + "/new")
async def new_automation_client(request: Request, actor: Actor, db: DbSession, settings: SettingsDep) -> Response:
    return await _register(request, db, actor, None, settings)


@router.get(ENVIRONMENT + "/{client_pk}")
async def environment_client(
    request: Request, environment_id: uuid.UUID, pk: ClientPk, actor: Actor, db: DbSession
) -> Response:
    return await _detail(request, db, actor, environment_id, pk)


@router.get(AUTOMATION + "/{client_pk}")
async def automation_client(request: Request, pk: ClientPk, actor: Actor, db: DbSession) -> Response:
    return await _detail(request, db, actor, None, pk)


async def _save(
    request: Request, db: AsyncSession, actor: TenantActor, environment_id: Scope, pk: uuid.UUID, settings: SettingsDep
) -> Response:
    form = await read_form(request, settings)
    client: Client = await service.get(db, actor, environment_id, pk)
    fields: dict[str, Any]
    if client.purpose is ClientPurpose.APPLICATION:
        fields = _application_fields(form, client.id_token_signed_response_alg)
    elif client.purpose is ClientPurpose.MACHINE:
        fields = {
            "name": form.get("name", ""),
            "audience": form.get("audience", ""),
            "permissions": form.getlist("permissions"),
        }
    else:
        fields = {"name": form.get("name", ""), "permissions": form.getlist("permissions")}
    try:
        change: ClientUpdate | AutomationClientUpdate = (
            validated(AutomationClientUpdate, fields) if environment_id is None else validated(ClientUpdate, fields)
        )
        await service.update(db, settings, actor, environment_id, pk, change)
    except (FormErrors, Problem) as failed:
        status, errors = _errors(failed)
        await roll_back(db, actor)
        return await _detail(request, db, actor, environment_id, pk, status, errors, _shown(fields))
    return redirect(request, f"{base_path(environment_id)}/{pk}", f"Client {client.name} saved.")


@router.post(ENVIRONMENT + "/{client_pk}")
async def save_environment_client(
    request: Request, environment_id: uuid.UUID, pk: ClientPk, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    return await _save(request, db, actor, environment_id, pk, settings)


@router.post(AUTOMATION + "/{client_pk}")
async def save_automation_client(
    request: Request, pk: ClientPk, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    return await _save(request, db, actor, None, pk, settings)


def _seconds(hours: str) -> int | str:
    """Hours as seconds; what is no number of hours is passed on as given, for the model to refuse."""
    try:
        seconds = float(hours or "0") * 3600
    except ValueError:
        return hours
    return int(seconds) if math.isfinite(seconds) else hours


async def _rotate(
    request: Request, db: AsyncSession, actor: TenantActor, environment_id: Scope, pk: uuid.UUID, settings: SettingsDep
) -> Response:
    form = await read_form(request, settings)
    hours = form.get("overlapHours", "24").strip()
    try:
        overlap = validated(SecretRotation, {"overlapSeconds": _seconds(hours)})
        _, secret, _ = await service.rotate(db, actor, environment_id, pk, overlap.overlap_seconds)
    except (FormErrors, Problem) as failed:
        status, errors = _errors(failed)
        await roll_back(db, actor)
        errors = {"overlapHours": "Must be a number of hours from 0 to 720."} if "overlapSeconds" in errors else errors
        return await _detail(request, db, actor, environment_id, pk, status, errors, {"overlapHours": hours})
    return await _detail(request, db, actor, environment_id, pk, template="clients/secret.html", secret=secret)


@router.post(ENVIRONMENT + "/{client_pk}/secret")
async def rotate_environment_client(
    request: Request, environment_id: uuid.UUID, pk: ClientPk, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    return await _rotate(request, db, actor, environment_id, pk, settings)


@router.post(AUTOMATION + "/{client_pk}/secret")
async def rotate_automation_client(
    request: Request, pk: ClientPk, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    return await _rotate(request, db, actor, None, pk, settings)


@router.get(ENVIRONMENT + "/{client_pk}/delete")
async def confirm_environment_delete(
    request: Request, environment_id: uuid.UUID, pk: ClientPk, actor: Actor, db: DbSession
) -> Response:
    return await _detail(request, db, actor, environment_id, pk, template="clients/delete.html")


@router.get(AUTOMATION + "/{client_pk}/delete")
async def confirm_automation_delete(request: Request, pk: ClientPk, actor: Actor, db: DbSession) -> Response:
    return await _detail(request, db, actor, None, pk, template="clients/delete.html")


async def _delete(
    request: Request, db: AsyncSession, actor: TenantActor, environment_id: Scope, pk: uuid.UUID, settings: SettingsDep
) -> Response:
    await read_form(request, settings)
    client = await service.get(db, actor, environment_id, pk)
    name = client.name
    try:
        await service.delete(db, actor, environment_id, pk)
    except Problem as problem:
        if problem.status == 404:
            raise
        await roll_back(db, actor)
        return await _detail(request, db, actor, environment_id, pk, problem.status, {"form": problem.detail})
    return redirect(request, base_path(environment_id), f"Client {name} deleted.")


@router.post(ENVIRONMENT + "/{client_pk}/delete")
async def delete_environment_client(
    request: Request, environment_id: uuid.UUID, pk: ClientPk, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    return await _delete(request, db, actor, environment_id, pk, settings)


@router.post(AUTOMATION + "/{client_pk}/delete")
async def delete_automation_client(
    request: Request, pk: ClientPk, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    return await _delete(request, db, actor, None, pk, settings)
