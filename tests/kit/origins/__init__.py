"""Cookie-authenticated writes come only from trusted origins (CSRF, SESS-11).

A state change (any method but GET, HEAD, OPTIONS, TRACE) whose credential is the `sump_session` cookie is
refused with 403 `origin_refused` unless it comes from Sump's own origin (`SUMP_PUBLIC_URL`'s, or the scheme and
host the request was sent to) or from one listed in `SUMP_CORS_ORIGINS`. Without `Origin`, `Sec-Fetch-Site`
decides; with neither, no browser is involved and the request is let through. A bearer token is not something
a browser adds by itself, so requests that carry one are not checked. The console shares the same check but
trusts only Sump's own origin.
"""
