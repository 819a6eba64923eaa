"""What every console page shares: templates, the signed-in tenant account, CSRF-checked forms, redirects and
the HTML error page.

CSRF (`sump.kit.forms`): a random `sump_csrf` cookie (HttpOnly, SameSite=Strict, path `/console`) plus a form
field holding the HMAC of that cookie and of the console session's token.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import ImmutableMultiDict

from sump.access.actors import TenantActor
from sump.access.cookies import cookie_token
from sump.access.dependencies import credentials
from sump.audit import policy as audit_policy
from sump.config import Settings
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.environments import policy as environment_policy
from sump.kit import forms
from sump.kit.call import Hooks
from sump.kit.crypto import sign_cookie, unsign_cookie
from sump.kit.custom_properties import readable
from sump.kit.deps import SettingsDep
from sump.kit.forms import FormErrors as FormErrors
from sump.kit.forms import problem_errors as problem_errors
from sump.kit.forms import validated as validated
from sump.kit.transactions import DbSession
from sump.tenants import policy as tenant_policy

CSRF_COOKIE = "sump_csrf"
CSRF_PURPOSE = "console-csrf"
FLASH_COOKIE = "sump_flash"
TENANT_COOKIE = "sump_console_tenant"
BREAK_AFTER = re.compile(r"(?<=[.@_:/-])")
WBR = Markup("<wbr>")

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["TenantRole"] = TenantRole
# The features' rules, for controls shown enabled only when the rule allows them: `allows(tenants.edit(actor))`.
templates.env.globals.update(
    allows=lambda verdict: verdict is None,
    audit_rules=audit_policy,
    environment_rules=environment_policy,
    tenant_rules=tenant_policy,
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _breakable(value: Any) -> Markup:
    """The value, escaped, with a line-break opportunity after each `.`, `@`, `_`, `:`, `/` and `-`: ids, codes
    and addresses wrap there on a narrow screen instead of mid-word."""
    pieces = BREAK_AFTER.split(str(value))  # the separators stay, each at the end of its piece
    return WBR.join(escape(piece) for piece in pieces if piece)


def _shown(value: Any) -> str:
    """A custom-property value as it is edited: strings bare, anything else as JSON (as deep as views show it)."""
    return value if isinstance(value, str) else json.dumps(readable(value, level=2), ensure_ascii=False)


templates.env.filters["when"] = _when
templates.env.filters["shown"] = _shown
templates.env.filters["breakable"] = _breakable


class SignInRequired(Exception):
    """A protected page without a tenant session: answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


# ---------------------------------------------------------------------------------------------------- CSRF


def _session_token(request: Request, settings: Settings) -> str:
    """The console reads the session from its cookie only: forms and the CSRF token are bound to it."""
    return cookie_token(request, settings) or ""


def csrf_token(request: Request, settings: Settings) -> str:
    return forms.csrf_token(request, settings, CSRF_PURPOSE, CSRF_COOKIE, _session_token(request, settings))


async def read_form(request: Request, settings: Settings) -> ImmutableMultiDict[str, str]:
    """The urlencoded body of a console form, after the origin and CSRF checks."""
    return await forms.read_guarded_form(
        request, settings, CSRF_PURPOSE, CSRF_COOKIE, _session_token(request, settings)
    )


# --------------------------------------------------------------------------------------------- responses


def set_console_cookie(
    response: Response, settings: Settings, name: str, value: str, max_age: int | None = None
) -> None:
    """A cookie of the console's own: sent to `/console` only, never to scripts or other sites."""
    response.set_cookie(
        name, value, max_age=max_age, path="/console", httponly=True, secure=settings.secure_cookies, samesite="strict"
    )


def _finish(request: Request, response: Response, settings: Settings) -> Response:
    csrf_cookie = forms.new_csrf_cookie(request)
    if csrf_cookie:
        set_console_cookie(response, settings, CSRF_COOKIE, csrf_cookie)
    if request.cookies.get(FLASH_COOKIE) and not getattr(request.state, "flash_set", False):
        response.delete_cookie(FLASH_COOKIE, path="/console")
    return response


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    actor: TenantActor | None = None,
    **context: Any,
) -> Response:
    settings: Settings = request.app.state.settings
    flash_cookie = request.cookies.get(FLASH_COOKIE)
    flash = (
        unsign_cookie(settings.secret_key, flash_cookie, settings.previous_secret_keys, FLASH_COOKIE)
        if flash_cookie
        else None
    )
    context.update(
        actor=actor,
        csrf=csrf_token(request, settings),
        tenant_signup=settings.tenant_signup,
        flash=flash or "",
        errors=context.get("errors") or {},
        values=context.get("values") or {},
    )
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers["Referrer-Policy"] = forms.page_referrer(context["values"])
    return _finish(request, response, settings)


def redirect(request: Request, path: str, flash: str | None = None) -> Response:
    """303 to `path` (a console path); `flash` is shown once on the next page."""
    settings: Settings = request.app.state.settings
    response = RedirectResponse(path, status_code=303)
    if flash:
        request.state.flash_set = True
        set_console_cookie(response, settings, FLASH_COOKIE, sign_cookie(settings.secret_key, flash, FLASH_COOKIE))
    return _finish(request, response, settings)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if value and value.startswith("/console/") and not value.startswith("/console//") and "\\" not in value:
        return value
    return "/console/"


def login_url(next_path: str) -> str:
    return "/console/login?" + urlencode({"next": next_path})


# ----------------------------------------------------------------------------------------- the signed-in


async def _signed_in(request: Request, db: DbSession, settings: SettingsDep) -> TenantActor:
    token = _session_token(request, settings)
    found = await credentials(request).signed_in(db, token) if token else None
    if found is None or not isinstance(found[1], TenantAccount):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return TenantActor(found[0], found[1])


Actor = Annotated[TenantActor, Depends(_signed_in)]


async def signed_in_or_none(request: Request, db: AsyncSession, settings: Settings) -> TenantActor | None:
    try:
        return await _signed_in(request, db, settings)
    except SignInRequired:
        return None


# ------------------------------------------------------------------------------------------------ values


def optional(form: Mapping[str, str], *names: str) -> dict[str, str]:
    """The named fields that were filled in, trimmed."""
    return {name: form[name].strip() for name in names if form.get(name, "").strip()}


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def property_edits(form: ImmutableMultiDict[str, str], current: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The custom-property form (rows of `key`/`value`, `remove` checkboxes) as (keys to set, keys to delete).

    A value that reads as JSON (a number, `true`, `null`, an object…) is stored as such; anything else as text.
    A row whose key was cleared deletes it; unchanged rows are left alone.
    """
    removed = set(form.getlist("remove"))
    keys, raw_values = form.getlist("key"), form.getlist("value")
    if len(keys) != len(raw_values):
        raise FormErrors({"properties": "The form could not be read; reload the page."})
    changes: dict[str, Any] = {}
    kept: set[str] = set()
    for key, raw in zip(keys, raw_values, strict=True):
        key = key.strip()
        if not key or key in removed:
            continue
        try:
            value: Any = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to be meant as JSON
            value = raw
        kept.add(key)
        if key not in current or current[key] != value:
            changes[key] = value
    deleted = sorted(key for key in current if key in removed or key not in kept)
    return changes, deleted


async def roll_back(db: AsyncSession, actor: TenantActor) -> None:
    """Undoes the request's writes after a refusal, then reloads the signed-in account and session (a rollback
    expires them) so that the page showing the errors can still name who is signed in."""
    await db.rollback()
    hooks: Hooks | None = db.info.get("hooks")
    if hooks is not None:
        await hooks.after_rollback()  # failed attempts a service asked to audit once its writes are undone
    await db.refresh(actor.account)
    await db.refresh(actor.session)
