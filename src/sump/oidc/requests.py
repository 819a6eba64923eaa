"""Validating an authorization request (RFC 6749 §4.1.1, RFC 7636, OpenID Connect Core §3.1.2.1) with Authlib's
protocol pieces.

Authlib's authorization server is synchronous and wants its models loaded through callbacks; Sump's data is
async. So the client is loaded first, from the async database layer, and the checks here run over it with
Authlib's parts that need no I/O: its `OAuth2Payload` reads the parameters (`client_id`, `response_type`,
`redirect_uri`, `scope`, `state`), its `scope_to_list` splits the scope, its RFC 7636 pattern checks the
code challenge, and its error classes (`InvalidRequestError`, `UnsupportedResponseTypeError`,
`InvalidScopeError`, `UnauthorizedClientError`, OpenID's `LoginRequiredError`, `ConsentRequiredError`,
`RequestNotSupportedError`, `RequestURINotSupportedError`) carry the `error` codes and render the error
response's parameters (`get_body`), which `authlib.common.urls.add_params_to_uri` adds to the redirect URI."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError

from sump.clients.schemas import OIDC_SCOPES
from sump.db.tables.clients import Client

# The scopes Sump knows: `openid` (an ID token), and the claims of userinfo and the ID token by scope. Any other
# scope asked for is ignored, never granted.
SCOPES = OIDC_SCOPES
PROMPTS = frozenset({"none", "login", "consent"})
MAX_STATE = 512
MAX_HINT = 256
AUTHORIZATION_CODE = "authorization_code"
S256_CHALLENGE_LENGTH = 43  # the unpadded base64url of a SHA-256


class QueryPayload(OAuth2Payload):  # type: ignore[misc]
    """Authlib's view of a request's parameters, from the query's pairs (a repeated parameter is kept whole,
    so it can be refused; one sent without a value is left out, as RFC 6749 §3.1 says)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            if value:
                self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist

    def repeated(self) -> list[str]:
        return sorted(key for key, values in self._datalist.items() if len(values) > 1)


@dataclass(frozen=True)
class Parameters:
    """A validated authorization request: what the flow keeps while its end user signs in."""

    client_id: str
    redirect_uri: str
    scope: list[str]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: list[str]
    max_age: int | None
    login_hint: str | None


def _optional(payload: QueryPayload, name: str, limit: int) -> str | None:
    value = payload.data.get(name)
    if value is not None and len(value) > limit:
        raise InvalidRequestError(f"{name} is too long.")
    return value or None


def validate(payload: QueryPayload, client: Client, redirect_uri: str) -> Parameters:
    """The request's parameters once the client and its redirect URI are known to be right; an `OAuth2Error`
    otherwise, which goes back to the client through that redirect URI."""
    if payload.repeated():
        raise InvalidRequestError("A parameter is repeated.")
    if "request" in payload.data:
        raise RequestNotSupportedError()
    if "request_uri" in payload.data:
        raise RequestURINotSupportedError()
    if payload.response_type != "code":
        raise UnsupportedResponseTypeError("Only response_type=code is supported.")
    if AUTHORIZATION_CODE not in client.grant_types:
        raise UnauthorizedClientError("The client may not use the authorization code grant.")
    if payload.data.get("response_mode", "query") != "query":
        raise InvalidRequestError("Only response_mode=query is supported.")
    challenge = payload.data.get("code_challenge")
    if not challenge:
        raise InvalidRequestError("code_challenge is required (PKCE with S256).")
    if payload.data.get("code_challenge_method") != "S256":
        raise InvalidRequestError("code_challenge_method must be S256.")
    if len(challenge) != S256_CHALLENGE_LENGTH or not CODE_CHALLENGE_PATTERN.match(challenge):
        raise InvalidRequestError("code_challenge is not a valid S256 challenge.")
    requested = scope_to_list(payload.scope) or []
    if "openid" not in requested:
        raise InvalidScopeError("The scope must contain openid.")
    scope = [name for name in dict.fromkeys(requested) if name in SCOPES and name in client.scopes_allowed]
    prompt = scope_to_list(payload.data.get("prompt")) or []
    if not set(prompt) <= PROMPTS or ("none" in prompt and len(prompt) > 1):
        raise InvalidRequestError("prompt must be none, or login and/or consent.")
    max_age = payload.data.get("max_age")
    if max_age is not None and not re.fullmatch(r"[0-9]{1,9}", max_age):
        raise InvalidRequestError("max_age must be a number of seconds.")
    return Parameters(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=_optional(payload, "state", MAX_STATE),
        nonce=_optional(payload, "nonce", MAX_STATE),
        code_challenge=challenge,
        prompt=sorted(set(prompt)),
        max_age=int(max_age) if max_age is not None else None,
        login_hint=_optional(payload, "login_hint", MAX_HINT),
    )


def echoed_state(payload: QueryPayload) -> str | None:
    """The `state` an error response echoes: the request's, unless it is too long to be one."""
    state = payload.data.get("state")
    return state if state and len(state) <= MAX_STATE else None


def error_parameters(error: OAuth2Error, state: str | None, issuer: str) -> list[tuple[str, str]]:
    """An error response's parameters (RFC 6749 §4.1.2.1), with the issuer (RFC 9207)."""
    error.state = state
    return [*error.get_body(), ("iss", issuer)]
