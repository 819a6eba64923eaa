"""Pure-ASGI answers to the two hottest reads, in front of the framework, on the same services and rules.

- `GET /api/v1/auth/{tenants|environments}/{id}/session`: the token is read by `access.cookies.token_of` (the
  rule every route uses: bearer, else the signed cookie) and resolved by the application's one resolver
  (`app.state.credentials.session_view`: one SELECT, the sliding expiry at most once a minute) on a connection
  the check holds (`db.held`, at most a few checks on the database at once); 200 with the
  `SessionView` body, or the framework's 401 problem, byte for byte.
- `GET /api/v1/environments/{id}/.well-known/jwks.json`: `environments.service.named` and
  `tokens.service.key_set`, the body rendered as the framework renders it, with `Cache-Control` and an `ETag`
  (a matching `If-None-Match` answers 304); kept by `tokens.service.PUBLISHED` for a few seconds.

Sign-ins and sign-ups the hashing pool would refuse now are answered 503 here, before any framework or
database work (the pool's own rule, `PasswordHasher.refusal`); the others go on.

Anything else, and any of these in a form the framework might answer differently (another method, a body, a
NUL in the query, an id not written as a canonical UUID), goes on to the framework untouched. The outer
`kit.edge` middleware adds the request id, the security headers and the access line as for every response.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from sump.access.actors import Credentials
from sump.access.cookies import token_of
from sump.config import Settings
from sump.db.held import HeldConnections
from sump.db.tables.sessions import AccountType
from sump.environments import service as environments
from sump.kit import metrics
from sump.kit.context import request_id_var
from sump.kit.errors import Problem, problem_response, unauthenticated, unexpected_response
from sump.tokens import service as tokens

_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_PATHS = re.compile(
    rf"/api/v1/(?:auth/(?P<family>tenants|environments)/(?P<context>{_UUID})/session"
    rf"|environments/(?P<environment>{_UUID})/\.well-known/jwks\.json)"
)
# Sign-ins and sign-ups always hash: when the pool would refuse this request's share now, they are refused
# here, before the framework and the database (`PasswordHasher.refusal`, the same rule as its `slot`).
_HASHING = re.compile(rf"/api/v1/auth/(?P<family>tenants|environments)/{_UUID}/(?P<action>login|signup)")
_FAMILIES = {"tenants": AccountType.TENANT_ACCOUNT, "environments": AccountType.ENVIRONMENT_ACCOUNT}
# The framework's route templates of what is answered here, for the metrics' `route` label (`kit.metrics`).
_PARAMS = {"tenants": "tenantId", "environments": "environmentId"}
_SESSION_ROUTES = {family: f"/api/v1/auth/{family}/{{{param}}}/session" for family, param in _PARAMS.items()}
JWKS_ROUTE = "/api/v1/environments/{environmentId}/.well-known/jwks.json"
JWKS_CACHE_CONTROL = b"public, max-age=300"
Headers = list[tuple[bytes, bytes]]
_LENGTH = (b"content-length", b"")  # set to the body's length when the response is sent


def _unauthenticated_parts() -> tuple[bytes, Headers]:
    """The framework's 401 for `…/session` (`kit.errors.unauthenticated`), rendered once: the body up to its
    request id (the last member), and its headers (their length is set again for each body)."""
    problem = unauthenticated()
    sample = problem_response(problem.status, problem.code, problem.detail, headers=problem.headers)
    body = bytes(sample.body)
    tail = b'"requestId":"' + request_id_var.get().encode() + b'"}'
    assert body.endswith(tail)
    return body[: -len(tail)] + b'"requestId":"', list(sample.raw_headers)


_UNAUTHENTICATED_HEAD, _UNAUTHENTICATED_HEADERS = _unauthenticated_parts()


def _plain_get(scope: Scope) -> bool:
    """A GET without a body or a NUL in its query: what the framework's outer layers let through unchanged."""
    if scope["method"] != "GET":
        return False
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return False
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return False
    return True


class HotPaths:
    """Serves the session check and JWKS without the framework; passes everything else on to `app`."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state  # the application's state: read at each request (tests may replace its parts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and (hashing := _HASHING.fullmatch(scope["path"])):
            refused = self.state.hasher.refusal()
            if refused is not None:
                family, action = hashing["family"], hashing["action"]
                scope["sump.route"] = f"/api/v1/auth/{family}/{{{_PARAMS[family]}}}/{action}"
                if action == "login":
                    metrics.sign_in_refused_for_load()
                response = problem_response(refused.status, refused.code, refused.detail, headers=refused.headers)
                await response(scope, receive, send)
                return
        match = _PATHS.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if match is None or not _plain_get(scope):
            await self.app(scope, receive, send)
            return
        family = match["family"]
        scope["sump.route"] = _SESSION_ROUTES[family] if family else JWKS_ROUTE
        try:
            if family:
                status, headers, body = await self._session(scope, _FAMILIES[family], match["context"])
            else:
                status, headers, body = await self._jwks(scope, uuid.UUID(match["environment"]))
        except Exception as exc:  # what `kit.errors.UnexpectedErrorMiddleware` answers on the framework's side
            await unexpected_response(exc)(scope, receive, send)
            return
        length = str(len(body)).encode()
        headers = [(name, length if name == b"content-length" else value) for name, value in headers]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _session(self, scope: Scope, account_type: AccountType, context: str) -> tuple[int, Headers, bytes]:
        settings: Settings = self.state.settings
        authorization = None
        cookies = []
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"cookie":
                cookies.append(value.decode("latin-1"))
        token = token_of(authorization, cookies, settings.secret_key, settings.previous_secret_keys)
        if token:
            held: HeldConnections = self.state.held
            credentials: Credentials = self.state.credentials
            async with held.connection() as conn:
                view = await credentials.session_view(conn, token, account_type, uuid.UUID(context))
            if view is not None:
                return 200, [_LENGTH, (b"content-type", b"application/json")], view
        body = _UNAUTHENTICATED_HEAD + request_id_var.get().encode("latin-1") + b'"}'
        return 401, _UNAUTHENTICATED_HEADERS, body

    async def _jwks(self, scope: Scope, environment_id: uuid.UUID) -> tuple[int, Headers, bytes]:
        rendered = tokens.PUBLISHED.get(environment_id)
        if rendered is None:
            settings: Settings = self.state.settings
            sessionmaker: async_sessionmaker[AsyncSession] = self.state.read_sessionmaker
            held: HeldConnections = self.state.held
            # On a held connection: reads of unknown environments, never kept, share the check's few connections.
            async with held.connection() as conn, sessionmaker(bind=conn) as db:
                try:
                    environment = await environments.named(db, environment_id)
                    keys = await tokens.key_set(db, settings, environment.id)
                except Problem as problem:
                    response = problem_response(problem.status, problem.code, problem.detail, headers=problem.headers)
                    return problem.status, list(response.raw_headers), bytes(response.body)
            # As the framework renders a returned dict (`JSONResponse`), so either path gives the same bytes.
            body = json.dumps(keys.document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
            rendered = body, b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
            if keys.next_published:
                tokens.PUBLISHED.keep(environment_id, rendered)
        body, etag = rendered
        cached = [(b"cache-control", JWKS_CACHE_CONTROL), (b"etag", etag)]
        if _matches(scope, etag):
            return 304, cached, b""
        return 200, [_LENGTH, (b"content-type", b"application/json"), *cached], body


def _matches(scope: Scope, etag: bytes) -> bool:
    """`If-None-Match` names this entity tag (weakly compared, RFC 9110 §13.1.2) or is `*`."""
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            tags = {tag.strip().removeprefix(b"W/") for tag in value.split(b",")}
            if b"*" in tags or etag in tags:
                return True
    return False
