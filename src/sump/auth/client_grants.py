"""The token endpoint's OAuth 2.0 side (RFC 6749 form requests): a client authenticates
(`clients.service.authenticate`: client_secret_basic, client_secret_post, or a public client's client_id alone),
then its grant: `authorization_code` (`sump.oidc.grant`), `refresh_token` bound to the client that holds it,
`client_credentials` for a machine client (`sump.clients.grants`).
Revocation (RFC 7009) and introspection (RFC 7662) authenticate the client the same way.

Errors are `Problem`s whose code is the RFC 6749 §5.2 `error`; the routes add `error` and
`error_description` to the problem body."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sump.auth.grants import refresh
from sump.clients import grants as machine_grants
from sump.clients import service as clients
from sump.db.tables.clients import Client, ClientKind, ClientPurpose
from sump.db.tables.environments import Environment
from sump.environment_accounts import service as end_users
from sump.kit.call import Call
from sump.kit.errors import Problem
from sump.oidc import grant as oidc
from sump.sessions import service as sessions
from sump.tokens import clients as client_tokens
from sump.tokens import service as tokens

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a grant type's name)
CLIENT_CREDENTIALS = "client_credentials"


@dataclass(frozen=True)
class ClientCredentials:
    """How the request names its client: `basic` when through `Authorization: Basic`."""

    client_id: str | None
    secret: str | None
    basic: bool = False


@dataclass(frozen=True)
class OAuthTokens:
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    id_token: str | None = None
    scope: str | None = None


def invalid_client(basic: bool) -> Problem:
    headers = {"WWW-Authenticate": 'Basic realm="sump"'} if basic else {}
    return Problem(401, "invalid_client", "Client authentication failed.", headers=headers)


def invalid_request(detail: str) -> Problem:
    return Problem(400, "invalid_request", detail)


def unauthorized_client() -> Problem:
    return Problem(400, "unauthorized_client", "The client may not use this grant type.")


async def authenticate(call: Call, environment: Environment, given: ClientCredentials | None) -> Client:
    """The client of this environment that the request proves; 401 `invalid_client` otherwise."""
    if given is None or not given.client_id:
        raise invalid_client(given.basic if given else False)
    client = await clients.authenticate(call.db, environment.id, environment.tenant_id, given.client_id, given.secret)
    if client is None or client.environment_id != environment.id:
        raise invalid_client(given.basic)
    return client


async def grant(
    call: Call, environment: Environment, given: ClientCredentials | None, form: dict[str, str]
) -> OAuthTokens | Problem:
    """Tokens for the form's grant. A replayed code or refresh token returns (not raises) its problem: the
    revocation it caused commits with the answer."""
    grant_type = form.get("grant_type")
    if grant_type not in {AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS}:
        raise Problem(400, "unsupported_grant_type", "The grant type is not supported.")
    client = await authenticate(call, environment, given)
    if grant_type == CLIENT_CREDENTIALS:
        machine = await machine_grants.client_credentials(call, environment, client, form.get("scope"))
        return OAuthTokens(machine.access_token, machine.expires_in, scope=machine.scope)
    if client.purpose is not ClientPurpose.APPLICATION or grant_type not in client.grant_types:
        raise unauthorized_client()
    if grant_type == AUTHORIZATION_CODE:
        code = form.get("code")
        if not code:
            raise invalid_request("The code is required.")
        if client.kind is ClientKind.PUBLIC and not form.get("code_verifier"):
            raise invalid_request("A public client sends its code_verifier.")
        issued = await oidc.authorization_code(
            call, environment, client, code, form.get("redirect_uri"), form.get("code_verifier")
        )
        if isinstance(issued, Problem):
            return issued
        return OAuthTokens(issued.access_token, issued.expires_in, issued.refresh_token, issued.id_token, issued.scope)
    raw = form.get("refresh_token")
    if not raw:
        raise invalid_request("The refresh_token is required.")
    # Authlib on first use: a worker that serves no OAuth request does not load it
    from authlib.oauth2.rfc6749.util import scope_to_list

    asked = " ".join(scope_to_list(form.get("scope")) or [])
    issuee = tokens.Issuee(client.id, client.client_id, asked, client.first_party, client.scopes_allowed)
    pair = await refresh(call, environment, raw, issuee)
    if isinstance(pair, Problem):
        return pair
    return OAuthTokens(pair.access_token, pair.expires_in, pair.refresh_token, scope=pair.scope)


async def revoke(call: Call, environment: Environment, given: ClientCredentials | None, token: str) -> None:
    """RFC 7009: revokes a refresh token held by the authenticated client (by no client: a first-party one).
    Access tokens are short-lived JWTs and are not revoked one by one; unknown tokens are no error."""
    client = await authenticate(call, environment, given) if given is not None else None
    await tokens.revoke(call.db, environment, token, client.id if client else None)


async def introspect(call: Call, environment: Environment, given: ClientCredentials, token: str) -> dict[str, Any]:
    """RFC 7662, for confidential clients: what an active access or refresh token of this environment issued to
    that client says, else `{"active": false}` (another client's tokens are none of its business)."""
    client = await authenticate(call, environment, given)
    if client.kind is not ClientKind.CONFIDENTIAL:
        raise invalid_client(given.basic)
    if token.count(".") == 2:
        machine = client.audience if client.purpose is ClientPurpose.MACHINE else None
        try:
            if machine:  # its own client_credentials tokens, for its audience
                claims = await tokens.verify_machine_token(call.db, call.settings, environment, token, machine)
            else:  # a third-party client's tokens have the userinfo endpoint for audience
                claims = await tokens.verify_access_token(call.db, call.settings, environment, token, userinfo=True)
        except Problem:
            return {"active": False}
        if claims.get("client_id") != client.client_id:  # only the client's own tokens
            return {"active": False}
        if not machine:
            account = await end_users.enabled(call.db, environment.id, uuid.UUID(claims["sub"]))
            if account is None or not await sessions.is_live(call.db, call.settings, uuid.UUID(claims["sid"])):
                return {"active": False}
        shown = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti", "sid")
        return {"active": True, "token_type": "Bearer", **{name: claims[name] for name in shown if name in claims}}
    found = await client_tokens.introspect_refresh(call.db, call.settings, environment, token, client.id)
    return found if found is not None else {"active": False}
