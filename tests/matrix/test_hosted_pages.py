"""The cross-tenant matrix of the hosted pages (`/api/v1/environments/{environmentId}/hosted/…`), which are not in
the OpenAPI document and read only their own session, the `sump_hosted` cookie.

Actors: anonymous; an end user of this environment by their hosted cookie (eu), the same end user's session sent
as a bearer token (bearer: the pages never read one), an end user of another tenant's environment by their
hosted cookie (euB), and the tenant's owner by the console's `sump_session` cookie (owner). Every page answers
alike but for the signed-in ones; a page given another environment's authorization request answers 400.
Forms (POST) are CSRF-checked before anything else: `tests/hosted` covers them.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from sump.hosted.app import create_hosted
from sump.kit.crypto import sign_cookie
from tests.oidc.support import new_rp
from tests.support import SECRET, TenantWorld, new_tenant

ACTORS = ("anonymous", "eu", "bearer", "euB", "owner")
# Path under the environment's hosted pages, the request it is given (none, one of this environment, one of
# another tenant's environment), then each actor's status.
TABLE = """
GET  /sign-in          -        200 303 200 200 200
GET  /sign-in          here     200 200 200 200 200
GET  /sign-in          elsewhere 400 400 400 400 400
GET  /sign-up          -        200 200 200 200 200
GET  /sign-up          elsewhere 400 400 400 400 400
GET  /forgot-password  -        200 200 200 200 200
GET  /forgot-password  elsewhere 400 400 400 400 400
GET  /reset-password   -        200 200 200 200 200
GET  /signed-in        -        303 200 303 303 303
GET  /signed-out       -        200 200 200 200 200
GET  /consent          -        400 400 400 400 400
GET  /consent          here     303 200 303 303 303
GET  /consent          elsewhere 400 400 400 400 400
GET  /brand.css        -        200 200 200 200 200
GET  /passkeys.js      -        200 200 200 200 200
"""
ROWS = [line.split() for line in TABLE.strip().splitlines()]
# The forms, each behind the CSRF check.
FORMS = {"/sign-in", "/sign-in/factor", "/sign-in/enrol", "/sign-up", "/forgot-password", "/reset-password"}
FORMS |= {"/consent", "/logout", "/sign-in/passkey", "/sign-in/passkey/options", "/sign-in/factor/options"}


def test_every_page_has_a_row() -> None:
    hosted = create_hosted(FastAPI().state)
    routes = {
        (method, context.path or "")
        for context in iter_route_contexts(hosted.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }
    assert {(method, path) for method, path, *_ in ROWS} == {route for route in routes if route[0] == "GET"}
    assert {path for method, path in routes if method == "POST"} == FORMS


async def _waiting(client: httpx.AsyncClient, world: TenantWorld, environment_id: str) -> str:
    rp = await new_rp(client, world, environment_id, firstParty=False)
    started = await client.get(f"/api/v1/environments/{environment_id}/authorize", params=rp.query())
    assert started.status_code == 302, started.text
    return parse_qs(urlsplit(started.headers["location"]).query)["request"][0]


@pytest.mark.asvs("AC-01", "SESS-09")
async def test_hosted_pages_matrix(client: httpx.AsyncClient, world: TenantWorld) -> None:
    other = await new_tenant(client)
    user = await world.add_end_user(world.environment_id)
    user_b = await other.add_end_user(other.environment_id)
    requests = {
        "-": None,
        "here": await _waiting(client, world, world.environment_id),
        "elsewhere": await _waiting(client, other, other.environment_id),
    }
    headers = {
        "anonymous": {},
        "eu": {"Cookie": f"sump_hosted={sign_cookie(SECRET, user.token)}"},
        "bearer": user.auth,
        "euB": {"Cookie": f"sump_hosted={sign_cookie(SECRET, user_b.token)}"},
        "owner": {"Cookie": f"sump_session={sign_cookie(SECRET, world.owner.token)}"},
    }
    base = f"/api/v1/environments/{world.environment_id}/hosted"
    differences = []
    for method, path, request, *statuses in ROWS:
        params = {"request": requests[request]} if requests[request] else {}
        for actor, expected in zip(ACTORS, map(int, statuses), strict=True):
            response = await client.request(method, base + path, params=params, headers=headers[actor])
            if response.status_code != expected:
                differences.append(f"{method} {path} ({request}) as {actor}: {response.status_code}, not {expected}")
            if response.status_code in (302, 303):
                assert urlsplit(response.headers["location"]).path.startswith(base + "/"), response.headers
    assert differences == []


async def test_pages_of_a_made_up_environment_are_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/v1/environments/{uuid.uuid4()}/hosted/sign-in")
    assert response.status_code == 404
