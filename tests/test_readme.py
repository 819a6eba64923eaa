"""The README's walk-through bodies are accepted as written (a documentation bug is a bug)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

README = Path(__file__).resolve().parents[1] / "README.md"
BODY = re.compile(r"-d '(\{.*?\})'", re.DOTALL)


def readme_bodies() -> list[dict[str, object]]:
    bodies = []
    for raw in BODY.findall(README.read_text()):
        try:
            bodies.append(json.loads(raw))
        except ValueError:
            continue  # bodies that splice a shell variable
    return bodies


async def test_walk_through_creates_tenant_and_signs_up_an_end_user(client: httpx.AsyncClient) -> None:
    bodies = readme_bodies()
    [tenant_body] = [body for body in bodies if "tenant" in body]
    created = await client.post("/api/v1/tenants", json=tenant_body)
    assert created.status_code == 201, created.text
    tenant_id, environment_id = created.json()["tenantId"], created.json()["environmentId"]

    [login] = [body for body in bodies if set(body) == {"email", "password"}]
    signed_in = await client.post(f"/api/v1/auth/tenants/{tenant_id}/login", json=login)
    assert signed_in.status_code == 200, signed_in.text

    [signup] = [
        body for body in bodies if {"name", "username", "password"} <= set(body) and not {"roles", "token"} & set(body)
    ]
    signed_up = await client.post(f"/api/v1/auth/environments/{environment_id}/signup", json=signup)
    assert signed_up.status_code == 201, signed_up.text
