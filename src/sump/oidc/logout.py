"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). A verified `id_token_hint` (expired ones
too) is required, so that a bare link from another site signs no one out: the sign-in it names ends with its
refresh tokens, and so does the browser's hosted session (and its cookie) when it is the same end user's;
another end user's stays, so that a link carrying someone else's ID token does not sign the browser out. The
browser goes back to the client only to a `post_logout_redirect_uri` registered for it; otherwise to the
hosted signed-out page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sump.clients import service as clients
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import AccountType
from sump.kit.call import Call
from sump.kit.errors import Problem
from sump.sessions import service as sessions
from sump.tokens import clients as client_tokens
from sump.tokens.service import issuer

MAX_PARAMETER = 4096


def bad_logout(detail: str) -> Problem:
    return Problem(400, "invalid_logout_request", detail)


@dataclass(frozen=True)
class LoggedOut:
    """Where the browser goes next, and whether its hosted cookie is cleared: not while it holds another end
    user's live session."""

    target: str
    clears_cookie: bool


async def end_session(
    call: Call, environment: Environment, parameters: dict[str, str], hosted_token: str | None
) -> LoggedOut:
    """Ends the sign-in and answers where the browser goes next. Raises (an error page, never a redirect) for
    a hint that is not this environment's ID token, or a redirect URI not registered for its client."""
    if any(len(value) > MAX_PARAMETER for value in parameters.values()):
        raise bad_logout("A parameter is too long.")
    hint = parameters.get("id_token_hint")
    if not hint:  # a bare link from any site must not sign anyone out
        raise bad_logout("The id_token_hint is required: it says whose sign-in ends.")
    claims = await client_tokens.verify_id_token_hint(call.db, call.settings, environment, hint)
    if claims is None:
        raise bad_logout("The id_token_hint is not an ID token of this environment.")
    client_id = parameters.get("client_id") or str(claims["aud"])
    if client_id != claims["aud"]:
        raise bad_logout("The client_id is not the audience of the id_token_hint.")
    target = parameters.get("post_logout_redirect_uri")
    if target is not None:
        client = await clients.for_environment(call.db, environment.id, client_id)
        if client is None or target not in client.post_logout_redirect_uris:
            raise bad_logout("The post_logout_redirect_uri is not registered for this client.")
    account_id, session_id = uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"]))
    found = await sessions.resolve(call.db, call.settings, hosted_token) if hosted_token else None
    anothers = found is not None and found[1].id != account_id  # another end user's session stays, cookie too
    if found is not None and not anothers:  # the browser's hosted session, when it is the hint's
        await sessions.revoke_token(call.db, hosted_token or "")
    # The sign-in the hint names, if it is still there.
    await sessions.revoke_of_account(call.db, AccountType.ENVIRONMENT_ACCOUNT, account_id, session_id)
    if target is None:
        return LoggedOut(f"{issuer(call.settings, environment.id)}/hosted/signed-out", clears_cookie=not anothers)
    # Authlib on first use: a worker that serves no OAuth request does not load it
    from authlib.common.urls import add_params_to_uri

    state = parameters.get("state")
    return LoggedOut(str(add_params_to_uri(target, [("state", state)] if state else [])), clears_cookie=not anothers)
