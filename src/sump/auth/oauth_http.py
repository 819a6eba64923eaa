"""The HTTP side of the OAuth 2.0 endpoints (token, revocation, introspection): reading their
`application/x-www-form-urlencoded` bodies, the client's credentials (RFC 6749 §2.3.1: `client_secret_basic`
through Authlib's `extract_basic_authorization`, or `client_secret_post`), and their answers: `Cache-Control:
no-store`, and errors as problem details that carry RFC 6749 §5.2's `error` and `error_description`, sent as
`application/json` as §5.2 requires (strict clients refuse to read an error of another type)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response
from limits import parse
from pydantic import BaseModel, ValidationError

from sump.auth.client_grants import ClientCredentials, invalid_request
from sump.kit.errors import PROBLEM_JSON, Problem, problem_responses
from sump.kit.middleware import client_ip
from sump.kit.ratelimit import RateLimiter, per_ip

FORM_TYPE = "application/x-www-form-urlencoded"
OAUTH_JSON = "application/json"
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
        return ClientCredentials(basic_id, basic_secret or None, basic=True)  # empty: none, as in the form
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
    return Response(json.dumps(body, separators=(",", ":")), media_type=OAUTH_JSON, headers=NO_STORE)


OAUTH_ERRORS = frozenset(
    {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type"}
    | {"invalid_scope", "unsupported_token_type"}
)


def as_oauth(problem: Problem, request: Request) -> Problem:
    """The problem as an OAuth error (RFC 6749 §5.2): `error` is the problem's code when it is one of OAuth's
    (`invalid_grant` answers 400, as the RFC says), `temporarily_unavailable` for the server's own refusals
    (429, 503), else `invalid_request`; `error_description` is its sentence. The answer to a form (an OAuth
    client's request) is `application/json`, as §5.2 says, which strict clients require; to JSON (Sump's own
    grants), problem+json as everywhere else."""
    status = 400 if problem.code == "invalid_grant" else problem.status
    if problem.code in OAUTH_ERRORS:
        error = problem.code
    else:
        error = "temporarily_unavailable" if status in {429, 503} else "invalid_request"
    extra = {**(problem.extra or {}), "error": error, "error_description": problem.detail}
    headers = {**problem.headers, **NO_STORE}
    media_type = OAUTH_JSON if is_form(request) else PROBLEM_JSON
    return Problem(status, problem.code, problem.detail, headers=headers, extra=extra, media_type=media_type)


def oauth_error(problem: Problem, request: Request) -> Response:
    return as_oauth(problem, request).response()


def oauth_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors of an endpoint of OAuth clients: problem details, sent as
    `application/json` to a form."""
    documented = problem_responses(*statuses)
    for entry in documented.values():
        entry["content"] = {**entry["content"], OAUTH_JSON: entry["content"][PROBLEM_JSON]}
    return documented


def oauth_per_ip(name: str, limit: str) -> Callable[[Request], Awaitable[None]]:
    """`per_ip` for an endpoint of OAuth clients: its refusal is an OAuth error too."""
    limited = per_ip(name, limit)

    async def dependency(request: Request) -> None:
        try:
            await limited(request)
        except Problem as problem:
            raise as_oauth(problem, request) from None

    return dependency


def json_per_ip(name: str, limit: str) -> Callable[[Request], Awaitable[None]]:
    """`per_ip` for the JSON requests (Sump's own grants, the password grant among them) of an endpoint whose
    forms, OAuth clients' requests, are held to `REFUSED` instead."""
    limited = per_ip(name, limit)

    async def dependency(request: Request) -> None:
        if not is_form(request):
            await limited(request)

    return dependency


class RefusedPerIp:
    """A per-IP budget of failed client authentications at the token, revocation and introspection endpoints (a
    wrong secret, an unknown client): what guessing a client's secret is made of. Nothing an authenticated client
    does is counted: its backend makes every end user's code exchanges and refreshes from one address, and an
    attacker can make it send refused ones (a junk code at its callback), so a budget of those, or of all its
    requests, would let anyone cut it off; its codes and tokens are 256-bit, too long to guess."""

    NAME = "oauth-refused"

    def __init__(self, limit: str) -> None:
        self.item = parse(limit)

    async def check(self, request: Request) -> None:
        """429 (an OAuth error) while the address is past its budget; counts nothing."""
        limiter: RateLimiter = request.app.state.limiter
        await limiter.refuse_if_spent(self.item, self.NAME, client_ip(request.scope))

    async def count(self, request: Request) -> None:
        limiter: RateLimiter = request.app.state.limiter
        await limiter.count(self.item, self.NAME, client_ip(request.scope))


REFUSED = RefusedPerIp("60/minute")


async def refused(problem: Problem, request: Request) -> Response:
    """The OAuth error of a refused client request; a failed client authentication counts in the address's
    `REFUSED` budget."""
    if problem.code == "invalid_client":
        await REFUSED.count(request)
    return oauth_error(problem, request)
