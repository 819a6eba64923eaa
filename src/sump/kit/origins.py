"""Which origins may make a browser change something with the session cookie: one check, for the API's
cookie-authenticated writes (kit.middleware.OriginGuardMiddleware) and for the console's forms.

A browser adds the session cookie to a request by itself, whatever page starts it; what it cannot forge is
`Origin` (sent on every cross-origin request and on every POST, `null` when the page's origin is opaque) and
`Sec-Fetch-Site`. So a state change that uses the cookie is taken only from:

- Sump's own origin: `SUMP_PUBLIC_URL`'s (what browsers see behind a TLS proxy, where Sump itself sees http),
  or the scheme and host the request was sent to (a direct request), unless a trusted origin names that host
  under another scheme (the public host reached through the proxy);
- the origins the caller trusts besides (the API: `SUMP_CORS_ORIGINS`; the console: none).

Without `Origin`, `Sec-Fetch-Site` decides (`same-origin` and `none`, a user's own navigation, pass); with
neither, no browser sent the request (curl, another server), so whoever sent the cookie meant to.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
SAFE_FETCH_SITES = frozenset({"same-origin", "none"})


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL or origin, lower-cased and without a default port, so that two
    spellings of one origin compare equal; None for anything else (`null`, `*`, a bare host, user info)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def trusted_origins(public_url: str, listed: Iterable[str] = ()) -> frozenset[str]:
    """Sump's public origin and the listed ones, each in the form `origin_of` gives (entries that are not an
    origin, such as `*`, trust nothing)."""
    found = (origin_of(url) for url in (public_url, *listed))
    return frozenset(origin for origin in found if origin)


def from_trusted_origin(
    origin: str | None, fetch_site: str | None, scheme: str, host: str | None, trusted: Collection[str]
) -> bool:
    """Whether a state change that uses the session cookie comes from a page that may make it.

    `origin` and `fetch_site` are the `Origin` and `Sec-Fetch-Site` headers (None when absent), `scheme` and
    `host` where the request was sent (`Host` may be absent), `trusted` a set from `trusted_origins`.
    """
    if origin == "null" and fetch_site is not None:
        # What a page that sends no referrer posts (one whose address holds a link's token, `kit.forms`), and
        # any opaque origin: the browser's own `Sec-Fetch-Site` says where it came from.
        return fetch_site.strip().lower() == "same-origin"
    if origin is not None:
        if origin in trusted:  # as browsers write it: no parsing on the common path
            return True
        normal = origin_of(origin)
        if normal is None:
            return False
        return normal in trusted or (
            bool(host) and normal == origin_of(f"{scheme}://{host}") and not _proxied(normal, trusted)
        )
    if fetch_site is not None:
        return fetch_site.strip().lower() in SAFE_FETCH_SITES
    return True


def _proxied(own: str, trusted: Collection[str]) -> bool:
    """Whether `own`, the origin a request was sent to as Sump sees it, names the host of a trusted origin under
    another scheme: Sump behind a TLS proxy sees http for its public host, and a plain-http page on that host
    (whoever answers for it on the network) is not Sump's own."""
    parts = urlsplit(own)
    return any(
        (listed := urlsplit(origin)).hostname == parts.hostname and listed.scheme != parts.scheme for origin in trusted
    )
