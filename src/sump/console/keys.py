"""Console pages for an environment's signing keys: next, active and retired keys with their ids and dates, the
rotation schedule, and "rotate now" behind a confirmation.

The keys are read through `sump.tokens.admin.key_ring` (public facts only: ids, status, dates) and rotated through
`sump.tokens.admin.rotate_now`, as the API's rotate route does: any tenant account reads, owners and admins
rotate (403), another tenant's environment answers 404, and the rotation is audited.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sump.access.policy import require
from sump.console.web import Actor, read_form, redirect, render
from sump.environments import service as environments
from sump.kit.deps import SettingsDep
from sump.kit.transactions import DbSession
from sump.tokens import admin
from sump.tokens import policy as token_policy

router = APIRouter(prefix="/environments/{environment_id}/keys")


def keys_path(environment_id: uuid.UUID) -> str:
    return f"/console/environments/{environment_id}/keys"


@router.get("")
async def keys_page(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    environment = await environments.get(db, actor, environment_id)
    return render(
        request,
        "keys/index.html",
        actor=actor,
        section="environments",
        environment=environment,
        ring=await admin.key_ring(db, settings, actor, environment.id),
        rotate=token_policy.rotate_keys(actor),
        jwks_path=f"/api/v1/environments/{environment.id}/.well-known/jwks.json",
    )


@router.get("/rotate")
async def rotate_page(request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession) -> Response:
    environment = await environments.get(db, actor, environment_id)
    require(token_policy.rotate_keys(actor))
    return render(request, "keys/rotate.html", actor=actor, section="environments", environment=environment)


@router.post("/rotate")
async def rotate_now(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    await read_form(request, settings)
    key = await admin.rotate_now(db, settings, actor, environment_id)
    return redirect(request, keys_path(environment_id), f"Keys rotated: {key.kid} signs new tokens now.")
