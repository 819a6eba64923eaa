"""The HTTP side of the OAuth 2.0 endpoints (token, revocation, introspection): reading their
`application/x-www-form-urlencoded` bodies, the client's credentials (RFC 6749 §2.3.1: `client_secret_basic`
through Authlib's `extract_basic_authorization`, or `client_secret_post`), and their answers: `Cache-Control:
no-store`, and errors as problem details that carry RFC 6749 §5.2's `error` and `error_description`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from sump.auth.client_grants import ClientCredentials, invalid_request
from sump.kit.errors import Problem, problem_response

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 50
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower() == FORM_TYPE


async def read_form(request: Request) -> dict[str, str]:
    """The form's parameters; a repeated one, or a body that is no form, is `invalid_request` (RFC 6749 §3.2)."""
    try:
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise invalid_request("The form could not be read.") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise invalid_request("A parameter is repeated.")
        if "\x00" in key or "\x00" in value:
            raise invalid_request("The form holds a NUL character.")
        form[key] = value
    return form


def conform(form: dict[str, str], model: type[BaseModel]) -> None:
    """The form's parameters are what its documented model allows (lengths, values; unknown ones are ignored,
    as RFC 6749 §3.2 says); else `invalid_request`, naming the parameter and never echoing its value."""
    try:
        model.model_validate(form)
    except ValidationError as exc:
        name = ".".join(str(part) for part in exc.errors()[0]["loc"])
        raise invalid_request(f"The parameter {name} is not valid.") from None


def client_credentials(request: Request, form: dict[str, str]) -> ClientCredentials | None:
    """The client the request names: `Authorization: Basic`, or `client_id` (and `client_secret`) in the form;
    None when it names none. Both ways at once is `invalid_request`."""
    # Authlib on first use: a worker that serves no OAuth request does not load it
    from authlib.oauth2.rfc6749.util import extract_basic_authorization

    try:
        basic_id, basic_secret = extract_basic_authorization(request.headers)
    except ValueError:  # Authlib's, for credentials that are not UTF-8 or a bare "Basic "
        raise _unreadable_basic() from None
    posted_id, posted_secret = form.get("client_id"), form.get("client_secret")
    if "\x00" in (basic_id or "") + (basic_secret or ""):
        raise invalid_request("The credentials hold a NUL character.")
    if basic_id is not None:
        if posted_secret is not None or (posted_id is not None and posted_id != basic_id):
            raise invalid_request("Use one client authentication method.")
        return ClientCredentials(basic_id, basic_secret, basic=True)
    if request.headers.get("authorization", "").lower().startswith("basic"):
        raise _unreadable_basic()
    if posted_id is None:
        return None
    return ClientCredentials(posted_id, posted_secret or None)


def _unreadable_basic() -> Problem:
    """`Authorization: Basic` that names no client: a failed client authentication."""
    return Problem(401, "invalid_client", "Client authentication failed.", headers={"WWW-Authenticate": "Basic"})


def oauth_json(body: dict[str, Any]) -> Response:
    """A successful answer of an OAuth endpoint: JSON, never cached."""
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json", headers=NO_STORE)


OAUTH_ERRORS = frozenset(
    {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type"}
    | {"invalid_scope", "unsupported_token_type"}
)


def oauth_error(problem: Problem) -> Response:
    """A problem as the OAuth error response (RFC 6749 §5.2): `error` is the problem's code when it is one of
    OAuth's (`invalid_grant` answers 400, as the RFC says), `temporarily_unavailable` for the server's own
    refusals (429, 503), else `invalid_request`; `error_description` is its sentence."""
    status = 400 if problem.code == "invalid_grant" else problem.status
    if problem.code in OAUTH_ERRORS:
        error = problem.code
    else:
        error = "temporarily_unavailable" if status in {429, 503} else "invalid_request"
    extra = {"error": error, "error_description": problem.detail}
    headers = {**problem.headers, **NO_STORE}
    return problem_response(status, problem.code, problem.detail, headers=headers, extra=extra)
