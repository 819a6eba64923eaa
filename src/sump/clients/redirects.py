"""Redirect URIs of clients: what may be registered, and when a requested URI matches a registered one.

A registered URI is an absolute `https` URL without a fragment, or an `http` URL on a loopback host
(`127.0.0.1`, `[::1]`, `localhost`) for native apps. Matching is exact (no wildcards, no prefixes), except that
a loopback URI matches on any port (RFC 8252 §7.3: the app listens on a port it picks at run time). The same
rules hold for post-logout redirect URIs."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "localhost"})
MAX_LENGTH = 2048
_PORT = r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
_REST = r"(?:[/?][^#*\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?"
# What may be registered, as a pattern (the API document states it too): an https URL on an ASCII host name, or
# http on a loopback host; an optional port; no fragment, user information, wildcard or white space.
PATTERN = rf"^(?:https://[A-Za-z0-9.-]+|http://(?:127\.0\.0\.1|\[::1\]|localhost)){_PORT}{_REST}$"
_REGISTRABLE = re.compile(PATTERN)


def _split(uri: str) -> SplitResult | None:
    if len(uri) > MAX_LENGTH or any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in uri):
        return None
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (a port that is no number is refused here)
    except ValueError:
        return None
    return parts


def _loopback(parts: SplitResult) -> bool:
    host = parts.netloc.rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return parts.scheme == "http" and host.lower() in LOOPBACK_HOSTS


def problem(uri: str) -> str | None:
    """Why `uri` cannot be registered, or None."""
    if not _REGISTRABLE.fullmatch(uri):
        return "must be https, or http on 127.0.0.1, [::1] or localhost, without fragment, user or wildcard"
    parts = _split(uri)
    if parts is None or not parts.netloc or not parts.hostname:
        return "must be an absolute URL"
    if "#" in uri:
        return "must have no fragment"
    if "@" in parts.netloc:
        return "must have no user information"
    if "*" in uri:
        return "must have no wildcard"
    if parts.scheme == "https":
        return None
    if _loopback(parts):
        return None
    return "must be https, or http on 127.0.0.1, [::1] or localhost"


def _without_port(parts: SplitResult) -> str:
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    return parts._replace(netloc=host.lower()).geturl()


def matches(registered: list[str], uri: str) -> bool:
    """Whether `uri` is one of the `registered` URIs: exactly, or a loopback one on any port that could itself
    be registered (no user information: a browser reads `http://127.0.0.1:80@evil.example\\@127.0.0.1/` as a
    URL on evil.example)."""
    if uri in registered:
        return True
    given = _split(uri)
    if given is None or problem(uri) is not None or not _loopback(given):
        return False
    bare = _without_port(given)
    for candidate in registered:
        parts = _split(candidate)
        if parts is not None and _loopback(parts) and _without_port(parts) == bare:
            return True
    return False
