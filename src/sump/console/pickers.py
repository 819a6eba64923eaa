"""The sidebar's "End users": a page that asks which environment's end users to show, and the GET form of that
question (also on each end user list, to switch environment), answered with a redirect. Works without
JavaScript; another tenant's environment answers 404 (`sump.environments.service.get`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sump.console.web import Actor, redirect, render
from sump.environments import service as environments
from sump.kit.transactions import DbSession

router = APIRouter()
CHOICES = 200  # environments offered in the picker; a tenant with more reaches the rest through Environments


@router.get("/end-users")
async def end_users_picker(
    request: Request,
    actor: Actor,
    db: DbSession,
    environment: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    if environment is not None:
        chosen = await environments.get(db, actor, environment)
        return redirect(request, f"/console/environments/{chosen.id}/users")
    found = await environments.page(db, actor, None, CHOICES + 1)
    return render(
        request,
        "end_users/picker.html",
        actor=actor,
        section="end-users",
        environments=found[:CHOICES],
        more=len(found) > CHOICES,
    )
