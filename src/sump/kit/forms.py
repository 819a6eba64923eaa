"""Server-rendered forms, the console's and the hosted pages': reading a urlencoded body after the origin and
CSRF checks, and a model's validation as messages by form field.

CSRF: a random cookie (HttpOnly, on the pages' own path) plus a form field holding the HMAC of that cookie, of
the session token and of what the pages are (`purpose`: the console, or the hosted pages of one environment). A
page from another origin can neither read the cookie nor compute the HMAC, and a token taken from one session,
or one set of pages, is worthless in another. Requests that announce another origin (`Origin`,
`Sec-Fetch-Site`) are refused before the token is even looked at.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from hashlib import sha256
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ValidationError
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request

from sump.config import Settings
from sump.kit.errors import Problem, field_message
from sump.kit.origins import from_trusted_origin, trusted_origins

M = TypeVar("M", bound=BaseModel)
CSRF_FIELD = "csrf"
MAX_FORM_FIELDS = 300
FORM_TYPE = "application/x-www-form-urlencoded"
PHONE_LIKE = re.compile(r"^\+|^\d{10,}$")


class FormErrors(Exception):
    """Field messages (`field` → sentence) and an optional message for the whole form."""

    def __init__(self, errors: Mapping[str, str] | None = None, message: str | None = None) -> None:
        super().__init__(message or "The form has errors.")
        self.errors = dict(errors or {})
        self.message = message


# ---------------------------------------------------------------------------------------------------- CSRF


def csrf_cookie(request: Request, name: str) -> str:
    """The browser's CSRF cookie `name`, or a new random value that the response must set
    (`request.state.csrf_cookie_new`)."""
    value = request.cookies.get(name) or getattr(request.state, "csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(32)
        request.state.csrf_cookie = value
        request.state.csrf_cookie_new = True
    return value


def new_csrf_cookie(request: Request) -> str | None:
    """The CSRF cookie value this request made, which its response sets; None when the browser had one."""
    return request.state.csrf_cookie if getattr(request.state, "csrf_cookie_new", False) else None


def csrf_token(request: Request, settings: Settings, purpose: str, cookie: str, session: str | None) -> str:
    """The form field that goes with the CSRF cookie `cookie`, bound to `session` and `purpose`."""
    return _csrf_mac(settings.secret_key, request, purpose, cookie, session)


def _csrf_mac(secret: str, request: Request, purpose: str, cookie: str, session: str | None) -> str:
    message = f"{purpose}|{csrf_cookie(request, cookie)}|{session or ''}".encode()
    return hmac.new(secret.encode(), message, sha256).hexdigest()


def _csrf_valid(
    request: Request, settings: Settings, submitted: str, purpose: str, cookie: str, session: str | None
) -> bool:
    """Whether `submitted` is `csrf_token` under SUMP_SECRET_KEY or a previous secret (a page served before a
    rotation still posts)."""
    return any(
        hmac.compare_digest(submitted.encode(), _csrf_mac(secret, request, purpose, cookie, session).encode())
        for secret in (settings.secret_key, *settings.previous_secret_keys)
    )


def same_origin(request: Request, settings: Settings) -> bool:
    """The API's origin check (`kit.origins`) with Sump's own origin only: `SUMP_PUBLIC_URL`'s (behind a TLS
    proxy) or the one the request was sent to; the API's CORS origins are not trusted with forms."""
    headers = request.headers
    return from_trusted_origin(
        headers.get("origin"),
        headers.get("sec-fetch-site"),
        request.url.scheme,
        headers.get("host"),
        trusted_origins(settings.public_url),
    )


def page_referrer(values: Mapping[str, str]) -> str:
    """The referrer policy of a page: its address goes to Sump alone (its forms' `Origin` is checked), and
    nowhere at all when the page carries a link's token, which its address then holds (`values` are the
    page's form values)."""
    return "no-referrer" if values.get("token") else "same-origin"


def csrf_failed() -> Problem:
    return Problem(403, "csrf_failed", "The form has expired or came from another site. Reload the page and try again.")


async def read_guarded_form(
    request: Request, settings: Settings, purpose: str, cookie: str, session: str | None
) -> ImmutableMultiDict[str, str]:
    """The urlencoded body of a form, after the origin check and the CSRF check (`csrf_token`'s arguments)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise Problem(415, "unsupported_media_type", "Forms are sent as application/x-www-form-urlencoded.")
    if not same_origin(request, settings):
        raise csrf_failed()
    try:
        pairs = parse_qsl(
            (await request.body()).decode(),
            keep_blank_values=True,
            errors="strict",
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem(400, "malformed_form", "The form could not be read.") from exc
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        raise Problem(400, "malformed_form", "The form could not be read.")
    form = ImmutableMultiDict(pairs)
    submitted = form.get(CSRF_FIELD, "")
    if not request.cookies.get(cookie) or not _csrf_valid(request, settings, submitted, purpose, cookie, session):
        raise csrf_failed()
    return form


# ------------------------------------------------------------------------------------------------ values


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    """`model` from form values (by their wire names); field messages as a `FormErrors`. An empty field counts
    as not given: optional ones are left out, required ones are reported missing."""
    given = {key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            errors.setdefault(field or "form", _form_message(dict(error)))
        raise FormErrors(errors) from exc


def _form_message(error: dict[str, Any]) -> str:
    """Validation messages in the words of a form: an empty field is missing, lengths in characters."""
    if error["type"] == "missing" or (error["type"] == "string_too_short" and not str(error.get("input", "")).strip()):
        return "This field is required."
    if error["type"] == "string_too_short":
        return f"Must be at least {error['ctx']['min_length']} characters."
    if error["type"] == "string_too_long":
        return f"Must be at most {error['ctx']['max_length']} characters."
    return field_message(error)


def identifier_kind(identifier: str) -> str:
    """How the original console read the one identifier field of a sign-in: `@` is an email, `+` or 10+ digits
    a phone, anything else a username."""
    if "@" in identifier:
        return "email"
    return "phone" if PHONE_LIKE.search(identifier) else "username"


def identified(model: type[M], identifier: str, **fields: Any) -> M:
    """`model` (an identifier and `fields`) from a form's one identifier field, read by `identifier_kind`; the
    identifier's messages under `identifier`."""
    if not identifier:
        raise FormErrors({"identifier": "Enter your email, username or phone number."})
    try:
        return validated(model, {identifier_kind(identifier): identifier, **fields})
    except FormErrors as invalid:
        raise FormErrors({"identifier": next(iter(invalid.errors.values()))}) from invalid


def problem_errors(problem: Problem, default_field: str | None = None) -> FormErrors:
    """A service's refusal as form errors: its field messages, or its sentence for the whole form."""
    if problem.errors:
        return FormErrors(problem.errors)
    if default_field:
        return FormErrors({default_field: problem.detail})
    return FormErrors(message=problem.detail)
