"""Helpers for the console's end user pages: where they are, filling the creation form, and an end user's sign-in
through the API."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, signed_in

END_USER_PASSWORD = "a perfectly long passphrase"


def users_path(owner: Owner) -> str:
    return f"/console/environments/{owner.environment_id}/users"


def open_new_user_form(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto(users_path(owner))
    page.get_by_role("link", name="Create user").click()
    expect(page).to_have_url(re.compile(r"/users/new$"))


def fill_user(page: Page, tag: str, password: str | None = END_USER_PASSWORD, **fields: str) -> dict[str, str]:
    values = {
        "Full name": f"Jane {tag}",
        "Username": f"jane_{tag}",
        "Email": f"jane-{tag}@example.com",
        **fields,
    }
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)
    if password is not None:
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_label("Confirm password").fill(password)
    return values


def end_user_login(api: httpx.Client, environment_id: str, email: str, password: str) -> httpx.Response:
    return api.post(f"/auth/environments/{environment_id}/login", json={"email": email, "password": password})
