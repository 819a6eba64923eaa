"""The authorization code flow of an environment, from the authorization request to the code.

`authorize` validates the request (`sump.oidc.requests`, over Authlib's pieces) and stores it as an
`AuthorizationRequest` (a random token, stored as its SHA-256, 10 minutes, used once); then, and again at
`…/authorize/continue` after each hosted page, `_proceed` decides the next step: the hosted sign-in page when
there is no hosted session (or it is older than `max_age`, or `prompt=login` asks for a new sign-in), the
consent page for a third-party client without consent for these scopes (or `prompt=consent`), else the code.

The hosted pages use `pending`, `continue_url`, `grant_consent` and `deny`.

Errors before the client and its redirect URI are known to be right answer an error page (a problem, never a
redirect); after, they go back to the redirect URI with `error`, `error_description`, `state` and `iss`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import end_user_of
from sump.clients import redirects
from sump.clients import service as clients
from sump.db.base import utcnow
from sump.db.tables.clients import AuthorizationRequest, Client, ClientPurpose, Consent
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import Session
from sump.environments import service as environments
from sump.kit import audit
from sump.kit.audit import ref
from sump.kit.call import Call
from sump.kit.crypto import new_token, token_digest
from sump.kit.errors import Problem
from sump.oidc import codes, repository
from sump.sessions import service as sessions
from sump.tokens.service import issuer

if TYPE_CHECKING:
    from authlib.oauth2.rfc6749 import OAuth2Error

# Authlib, and `sump.oidc.requests` over it, are imported by the functions that use them, when first used: a
# worker that serves no authorization request does not load them.

REQUEST_TTL = timedelta(minutes=10)
# A used code is kept this long past its expiry, so that its replay still revokes what it issued.
REPLAY_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class Pending:
    """An authorization request waiting for its end user, as the hosted pages show it."""

    client_name: str
    first_party: bool
    scopes: list[str]
    login_hint: str | None
    prompt: list[str]
    sign_up: bool
    expires_at: datetime


def unknown_client() -> Problem:
    return Problem(400, "invalid_client", "The client is not registered in this environment.")


def bad_redirect_uri() -> Problem:
    return Problem(400, "invalid_redirect_uri", "The redirect_uri is not one registered for this client.")


def request_gone() -> Problem:
    return Problem(400, "invalid_request_token", "This sign-in request has expired or was already finished.")


def continue_url(environment_id: uuid.UUID, request_token: str) -> str:
    """Where the hosted pages send the browser once a step is done (a path on Sump's own origin)."""
    return f"/api/v1/environments/{environment_id}/authorize/continue?{urlencode({'request': request_token})}"


def _hosted_url(call: Call, environment: Environment, page: str, request_token: str) -> str:
    base = issuer(call.settings, environment.id)
    return f"{base}/hosted/{page}?{urlencode({'request': request_token})}"


async def authorize(
    call: Call, environment: Environment, pairs: Iterable[tuple[str, str]], hosted_token: str | None
) -> str:
    """Where the browser goes next: the hosted pages, or back to the client with a code or an error. Raises
    a problem (the error page) for an unknown client or a redirect URI not registered for it."""
    from authlib.oauth2.rfc6749 import OAuth2Error

    from sump.oidc.requests import QueryPayload, echoed_state, error_parameters, validate

    payload = QueryPayload(pairs)
    client_id, redirect_uri = payload.datalist.get("client_id", []), payload.datalist.get("redirect_uri", [])
    client = await clients.for_environment(call.db, environment.id, client_id[0]) if len(client_id) == 1 else None
    if client is None or client.purpose is not ClientPurpose.APPLICATION:
        raise unknown_client()
    if len(redirect_uri) != 1 or not redirects.matches(client.redirect_uris, redirect_uri[0]):
        raise bad_redirect_uri()
    state = echoed_state(payload)
    try:
        parameters = validate(payload, client, redirect_uri[0])
    except OAuth2Error as error:
        return _back(call, environment, redirect_uri[0], error_parameters(error, state, _iss(call, environment)))
    now = utcnow()
    token = new_token()
    stored: dict[str, Any] = {**parameters.__dict__, "consented_by": None}
    if "login" in parameters.prompt:
        stored["login_after"] = now.timestamp()
    row = AuthorizationRequest(
        token_hash=token_digest(token),
        environment_id=environment.id,
        client_pk=client.id,
        parameters=stored,
        created_at=now,
        expires_at=now + REQUEST_TTL,
    )
    await repository.add(call.db, row)
    return await _proceed(call, environment, client, row, token, hosted_token)


async def resume(call: Call, environment: Environment, request_token: str, hosted_token: str | None) -> str:
    """`…/authorize/continue`: the next step of a waiting request, after a hosted page."""
    row, client = await _waiting(call.db, environment, request_token)
    return await _proceed(call, environment, client, row, request_token, hosted_token)


async def _waiting(
    db: AsyncSession, environment: Environment, request_token: str
) -> tuple[AuthorizationRequest, Client]:
    row = await repository.request_by_digest(db, environment.id, token_digest(request_token))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise request_gone()
    client = await clients.for_environment(db, environment.id, str(row.parameters["client_id"]))
    if client is None or client.id != row.client_pk:
        raise request_gone()
    # A redirect URI taken from the client's registration since the request began receives nothing more.
    if not redirects.matches(client.redirect_uris, str(row.parameters["redirect_uri"])):
        raise request_gone()
    return row, client


def _iss(call: Call, environment: Environment) -> str:
    return issuer(call.settings, environment.id)


def _back(call: Call, environment: Environment, redirect_uri: str, parameters: list[tuple[str, str]]) -> str:
    from authlib.common.urls import add_params_to_uri

    return str(add_params_to_uri(redirect_uri, parameters))


async def _signed_in(
    call: Call, environment: Environment, hosted_token: str | None
) -> tuple[Session, EnvironmentAccount] | None:
    found = await sessions.resolve(call.db, call.settings, hosted_token) if hosted_token else None
    if found is None or not end_user_of(found[1], environment.id):
        return None
    return found[0], found[1]


def _fresh(session: Session, row: AuthorizationRequest, now: datetime) -> bool:
    """Whether the session's sign-in is recent enough: after the request when it asked `prompt=login`, and
    within `max_age` seconds (a sign-in made for this request always is, even with `max_age=0`)."""
    auth_time, parameters = session.created_at, row.parameters
    login_after = parameters.get("login_after")
    if login_after is not None and auth_time.timestamp() < float(login_after):
        return False
    max_age = parameters.get("max_age")
    return max_age is None or auth_time >= row.created_at or (now - auth_time).total_seconds() <= int(max_age)


async def _consent_needed(
    db: AsyncSession, environment: Environment, client: Client, account: EnvironmentAccount, parameters: dict[str, Any]
) -> bool:
    if client.first_party or parameters.get("consented_by") == str(account.id):
        return False
    if "consent" in parameters["prompt"]:
        return True
    given = await repository.consent(db, environment.id, account.id, client.id)
    return given is None or not set(parameters["scope"]) <= set(given.scopes)


async def _proceed(
    call: Call,
    environment: Environment,
    client: Client,
    row: AuthorizationRequest,
    token: str,
    hosted_token: str | None,
) -> str:
    from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError

    parameters = row.parameters
    silent = "none" in parameters["prompt"]
    now = utcnow()
    found = await _signed_in(call, environment, hosted_token)
    if found is None or not _fresh(found[0], row, now):
        if silent:
            return await _finish_with_error(call, environment, row, LoginRequiredError())
        return _hosted_url(call, environment, "sign-in", token)
    session, account = found
    if await _consent_needed(call.db, environment, client, account, parameters):
        if silent:
            return await _finish_with_error(call, environment, row, ConsentRequiredError())
        return _hosted_url(call, environment, "consent", token)
    if not await repository.use_request(call.db, environment.id, row.id, now):
        raise request_gone()
    code = await codes.issue(call.db, environment, client, account, session, parameters)
    await audit.record(
        call.db,
        "oauth.code_issued",
        tenant_id=environment.tenant_id,
        environment_id=environment.id,
        actor=ref(account),
        target=ref(account),
        details={"clientId": client.client_id},
    )
    answer = [("code", code)]
    if parameters.get("state"):
        answer.append(("state", parameters["state"]))
    answer.append(("iss", _iss(call, environment)))
    return _back(call, environment, parameters["redirect_uri"], answer)


async def _finish_with_error(
    call: Call, environment: Environment, row: AuthorizationRequest, error: OAuth2Error
) -> str:
    from sump.oidc.requests import error_parameters

    if not await repository.use_request(call.db, environment.id, row.id, utcnow()):
        raise request_gone()
    parameters = row.parameters
    answer = error_parameters(error, parameters.get("state"), _iss(call, environment))
    return _back(call, environment, parameters["redirect_uri"], answer)


async def pending(db: AsyncSession, environment: Environment, request_token: str) -> Pending | None:
    """The request waiting behind `request_token`, or None when it is unknown, finished or expired."""
    try:
        row, client = await _waiting(db, environment, request_token)
    except Problem:
        return None
    parameters = row.parameters
    return Pending(
        client_name=client.name,
        first_party=client.first_party,
        scopes=list(parameters["scope"]),
        login_hint=parameters.get("login_hint"),
        prompt=list(parameters["prompt"]),
        sign_up=environments.pool(environment).signup_enabled,
        expires_at=row.expires_at,
    )


async def grant_consent(call: Call, environment: Environment, request_token: str, account: EnvironmentAccount) -> None:
    """The end user (signed in on the hosted pages) grants the client the request's scopes: kept for their
    next sign-ins, and this request goes on without asking again."""
    row, client = await _waiting(call.db, environment, request_token)
    if not end_user_of(account, environment.id):
        raise request_gone()
    scopes = list(row.parameters["scope"])
    given = await repository.consent(call.db, environment.id, account.id, client.id)
    if given is None:
        await repository.add(
            call.db, Consent(environment_id=environment.id, account_id=account.id, client_pk=client.id, scopes=scopes)
        )
    else:
        given.scopes = sorted({*given.scopes, *scopes})
    consented = {**row.parameters, "consented_by": str(account.id)}  # this account's, not whoever continues it
    await repository.save_parameters(call.db, environment.id, row.id, consented)
    await audit.record(
        call.db,
        "oauth.consent_granted",
        tenant_id=environment.tenant_id,
        environment_id=environment.id,
        actor=ref(account),
        target=ref(account),
        details={"clientId": client.client_id, "scope": " ".join(scopes)},
    )


async def deny(call: Call, environment: Environment, request_token: str) -> str:
    """The end user refuses: the request ends, and the client hears `access_denied`."""
    from authlib.oauth2.rfc6749 import AccessDeniedError

    row, _client = await _waiting(call.db, environment, request_token)
    return await _finish_with_error(call, environment, row, AccessDeniedError())


async def purge_expired(db: AsyncSession) -> int:
    """Deletes the waiting requests that expired and the codes past their replay window (the hourly purge):
    anyone may start a request, so nothing else would bound that table."""
    now = utcnow()
    return await repository.purge_expired(db, now, now - REPLAY_WINDOW)
