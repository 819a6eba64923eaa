"""The outermost middleware: one pure-ASGI layer for what every HTTP exchange needs.

It does in one pass over the request's raw headers what four layers did before: the request id (a sane
`X-Request-Id` is kept, anything else replaced by a UUID, and so is "-", the id of what is logged outside any
request; echoed on the response), the client address (`X-Forwarded-For` believed only from
`SUMP_TRUSTED_PROXIES`), the security headers (pre-encoded once per kind of path: API, docs, console), one
access-log line per request, rendered once (`kit.logging.access_line`), the request's count and latency when
metrics are served (`kit.metrics.RequestMetrics`), and, for writes, whose share of the hashing queue the request
draws on (the tenant or environment of its path).
CORS, when origins are configured, stays Starlette's pure-ASGI middleware just inside this one.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sump.kit.context import NO_REQUEST, client_var, request_id_var
from sump.kit.logging import access_line
from sump.kit.metrics import RequestMetrics
from sump.kit.middleware import ProxyNetworks, resolve_client_ip
from sump.kit.passwords import draw_on_share

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The tenant or environment a request is for: its share of the hashing queue (`kit.passwords`).
_SHARE = re.compile(r"/api/v1/(?:auth/)?(?:tenants|environments)/([0-9a-fA-F-]{36})(?:/|$)")
READS = frozenset({"GET", "HEAD"})
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
NO_REFERRER = (b"referrer-policy", b"no-referrer")
Header = tuple[bytes, bytes]


class _Kind:
    """The security headers of one kind of path, encoded once: those set on every response, and those a
    response may set for itself (its own `Content-Security-Policy`, `Cache-Control`). A response may also ask
    for no referrer at all (a page whose address holds a link's token), never for a weaker policy."""

    def __init__(self, csp: str, referrer: str, hsts: bool) -> None:
        self.fixed: list[Header] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", referrer.encode()),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
        ]
        if hsts:
            self.fixed.append(HSTS)
        self.defaults: list[Header] = [(b"content-security-policy", csp.encode()), (b"cache-control", b"no-store")]
        self.fixed_but_referrer = [header for header in self.fixed if header[0] != b"referrer-policy"]
        self.replaced = frozenset(name for name, _ in self.fixed) | {b"x-request-id"}

    def apply(self, headers: Any, request_id: bytes) -> list[Header]:
        """The response's headers with the security headers and the request id: those set on every response
        replace the response's own, the defaults only fill in what the response did not say."""
        kept = [(name.lower(), value) for name, value in headers or ()]
        kept = [header for header in kept if header[0] not in self.replaced or header == NO_REFERRER]
        present = {name for name, _ in kept}
        kept += self.fixed_but_referrer if b"referrer-policy" in present else self.fixed
        kept += [header for header in self.defaults if header[0] not in present]
        kept.append((b"x-request-id", request_id))
        return kept


_V4_KEPT = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)  # all but the version and variant bits
_V4_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 9562 variant


def new_request_id() -> str:
    """A random UUID (version 4) for a request that brought no id of its own. Its bits come from the process's
    own generator, not the kernel's: the id only ties log lines and answers together (a client may choose its
    own), and the system call for 16 random bytes cost a request more than everything else about its id. It is
    written out directly (what `str(uuid.UUID(…))` writes, in a third of its time). (A forked worker's generator
    is seeded afresh: `random` reseeds itself in a child.)"""
    digits = "%032x" % (random.getrandbits(128) & _V4_KEPT | _V4_SET)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _is_console(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


class EdgeMiddleware:
    """Request id, client address, security headers and the access log, for every HTTP request."""

    def __init__(
        self, app: ASGIApp, trusted_proxies: ProxyNetworks, hsts: bool, metrics: RequestMetrics | None = None
    ) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies
        self.metrics = metrics
        # The console's pages send their origin on form posts (its CSRF check reads it): `same-origin` there,
        # because with `no-referrer` browsers send `Origin: null`.
        self.api = _Kind(API_CSP, "no-referrer", hsts)
        self.docs = _Kind(DOCS_CSP, "no-referrer", hsts)
        self.console = _Kind(CONSOLE_CSP, "same-origin", hsts)

    def _kind(self, path: str) -> _Kind:
        if path.startswith("/api/v1/"):
            return self.api
        if _is_console(path):
            return self.console
        return self.docs if path == "/api-docs" or path.startswith("/api-docs/") else self.api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = forwarded = agent = None
        # The first request id and user agent, as Starlette's `Headers.get` reads them; every X-Forwarded-For line,
        # one list in their order (RFC 9110 §5.3), which `resolve_client_ip` reads from the right.
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value if incoming is None else incoming
            elif name == b"x-forwarded-for":
                forwarded = value if forwarded is None else forwarded + b"," + value
            elif name == b"user-agent":
                agent = value if agent is None else agent
        given = incoming.decode("latin-1") if incoming is not None else ""
        request_id = given if _REQUEST_ID.match(given) and given != NO_REQUEST else new_request_id()
        client = scope.get("client")
        peer = client[0] if client else None
        if self.trusted_proxies or peer is None:
            forwarded_for = forwarded.decode("latin-1") if forwarded is not None else None
            ip = resolve_client_ip(peer, forwarded_for, self.trusted_proxies)
        else:
            ip = peer
        scope["sump.client_ip"] = ip
        user_agent = agent.decode("latin-1")[:512] if agent else None
        client_token = client_var.set((ip, user_agent))
        token = request_id_var.set(request_id)
        kind = self._kind(scope["path"])
        if scope["method"] not in READS and (share := _SHARE.match(scope["path"])):
            draw_on_share(share[1].lower())
        encoded_id = request_id.encode("latin-1")
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = kind.apply(message.get("headers"), encoded_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            access_line(scope["method"], scope["path"], status, round(seconds * 1000, 2), ip, request_id)
            if self.metrics is not None:
                self.metrics.observe(scope, status, seconds)
            request_id_var.reset(token)
            client_var.reset(client_token)
