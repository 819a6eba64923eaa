"""Helpers for the console's organization, role and key pages: where they are, and organizations made through the
API."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import Dialog, Page

from tests.console.conftest import Owner

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def environment_path(owner: Owner, environment_id: str | None = None) -> str:
    return f"/console/environments/{environment_id or owner.environment_id}"


def create_organization(
    api: httpx.Client, owner: Owner, admin_id: str, name: str | None = None, environment_id: str | None = None
) -> str:
    response = api.post(
        f"/environments/{environment_id or owner.environment_id}/organizations",
        json={"name": name or f"Org {uuid.uuid4().hex[:8]}", "adminAccountId": admin_id},
        headers=owner.auth,
    )
    assert response.status_code == 201, response.text
    organization_id: str = response.json()["id"]
    return organization_id


def member_roles(api: httpx.Client, owner: Owner, organization_id: str) -> dict[str, str]:
    response = api.get(
        f"/environments/{owner.environment_id}/organizations/{organization_id}/members", headers=owner.auth
    )
    assert response.status_code == 200, response.text
    return {member["username"]: member["role"] for member in response.json()}


def no_dialogs(page: Page) -> list[str]:
    """Collects any alert a page opens: markup typed as a name must never run."""
    opened: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened
