"""Pure ASGI middleware: body limits and the origin of cookie-authenticated writes; the client address rule.
(The request id, client address, security headers and access log are `kit.edge`'s.)"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sump.kit.errors import problem_response
from sump.kit.origins import from_trusted_origin

MAX_BODY_BYTES = 1024 * 1024
# The API paths that take `application/x-www-form-urlencoded` as well: the OAuth 2.0 endpoints (RFC 6749, 7009,
# 7662: the token endpoints, revocation, introspection), OpenID Connect's authorization, userinfo and end-session,
# and the hosted pages' forms. Every other API body is JSON.
FORM_PATHS = re.compile(
    r"/api/v1/(?:auth/environments/[^/]+/token(?:/revoke|/introspect)?|auth/tenants/[^/]+/token"
    r"|environments/[^/]+/(?:authorize|userinfo|end-session|hosted/.*))"
)
ProxyNetworks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]


def client_ip(scope: Scope) -> str:
    return str(scope.get("sump.client_ip", "unknown"))


def resolve_client_ip(peer: str | None, forwarded_for: str | None, trusted: ProxyNetworks) -> str:
    """The peer address, or the nearest untrusted hop of `X-Forwarded-For` when the peer is a trusted proxy."""
    if peer is None:
        return "unknown"
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    candidate = peer
    while _is_trusted(candidate, trusted) and hops:
        candidate = hops.pop()
    return candidate


def _is_trusted(address: str, trusted: ProxyNetworks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class BodyLimitMiddleware:
    """413 for bodies over 1 MiB (declared or streamed); 415 for API bodies that are not JSON.

    A body is read in full (at most 1 MiB) before the application sees it, so an oversized stream is refused
    here rather than failing inside the framework's body parsing.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and (not (length.isascii() and length.isdigit()) or int(length) > self.max_bytes):
            await _too_large(scope, receive, send)
            return
        if _has_nul_escape(scope.get("query_string", b""), query=True):
            await _nul(scope, receive, send)
            return
        has_body = (length is not None and int(length) > 0) or "transfer-encoding" in headers
        if not has_body:
            await self.app(scope, receive, send)
            return
        content_type = headers.get("content-type", "")
        if (
            scope["path"].startswith("/api/")
            and not _is_json(content_type)
            and not (_is_form(content_type) and FORM_PATHS.fullmatch(scope["path"]))
        ):
            response = problem_response(415, "unsupported_media_type", "The request body must be application/json.")
            await response(scope, receive, send)
            return

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _has_nul_escape(body):
            await _nul(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(413, "payload_too_large", "The request body is larger than 1 MiB.")
    await response(scope, receive, send)


_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _has_nul_escape(data: bytes, query: bool = False) -> bool:
    """NUL characters: PostgreSQL cannot store them in text or JSON, and no identifier or name needs one."""
    if query:
        return b"%00" in data or b"\x00" in data
    return _JSON_NUL.search(data) is not None  # a raw NUL byte is not JSON: the parser refuses it


async def _nul(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(400, "nul_character", "The request contains a NUL character.")
    await response(scope, receive, send)


def _is_form(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# A posted authorization request changes nothing and reads no cookie: it is answered by the same request by GET.
AUTHORIZE = re.compile(r"/api/v1/environments/[^/]+/authorize")
ORIGIN_REFUSED = (
    "A request that changes something with the session cookie must come from Sump's own origin or one listed in "
    "SUMP_CORS_ORIGINS; send the session as a bearer token otherwise."
)


class OriginGuardMiddleware:
    """403 `origin_refused` for a state change (any method but GET, HEAD, OPTIONS, TRACE) whose credential is the
    session cookie when it comes from an untrusted origin (CSRF; see `kit.origins`).

    The cookie is the credential when it is sent with a value and no `Authorization: Bearer <token>` is (the
    rule the application reads credentials by). Safe methods pass without a look at the headers. The console
    (`/console`) is left to its own forms, which run the same check with Sump's own origin only, and a posted
    authorization request (`AUTHORIZE`) changes nothing.
    """

    def __init__(self, app: ASGIApp, cookie_name: str, trusted: Collection[str]) -> None:
        self.app = app
        self.cookie_name = cookie_name
        self.trusted = frozenset(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or _is_console(scope["path"])
            or AUTHORIZE.fullmatch(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        has_cookie = False
        authorization = origin = fetch_site = host = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                has_cookie = has_cookie or _sends_cookie(value.decode("latin-1"), self.cookie_name)
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"origin" and origin is None:
                origin = value.decode("latin-1")
            elif name == b"sec-fetch-site" and fetch_site is None:
                fetch_site = value.decode("latin-1")
            elif name == b"host" and host is None:
                host = value.decode("latin-1")
        if (
            has_cookie
            and not _is_bearer(authorization)
            and not from_trusted_origin(origin, fetch_site, scope.get("scheme", "http"), host, self.trusted)
        ):
            await problem_response(403, "origin_refused", ORIGIN_REFUSED)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_console(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


def _sends_cookie(header: str, name: str) -> bool:
    """Whether a `Cookie` header holds `name` with a value (split as Starlette splits it). The caller looks at
    every `Cookie` header: the application reads the last `sump_session` among them (`access.cookies.token_of`)."""
    for pair in header.split(";"):
        key, _, value = pair.partition("=")
        if key.strip() == name and value.strip():
            return True
    return False


def _is_bearer(header: str | None) -> bool:
    """`Authorization: Bearer <token>`, read as `access.cookies.token_of` reads it (the first header only)."""
    scheme, _, credentials = (header or "").partition(" ")
    return scheme.lower() == "bearer" and bool(credentials.strip())
