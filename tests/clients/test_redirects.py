"""Redirect URI matching: exact, except a loopback URI on any port (RFC 8252 §7.3); never a prefix, another
host, scheme, path or query, and never a wildcard."""

from __future__ import annotations

import pytest

from sump.clients.redirects import matches, problem

REGISTERED = ["https://app.example.com/callback", "http://127.0.0.1/cb", "http://[::1]/cb", "http://localhost/cb"]


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com/callback",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:51234/cb",
        "http://[::1]:8080/cb",
        "http://localhost:3000/cb",
    ],
)
def test_matches(uri: str) -> None:
    assert matches(REGISTERED, uri)


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com/callback/",
        "https://app.example.com/callback?next=https://evil.example",
        "https://app.example.com/callback#x",
        "https://app.example.com:8443/callback",
        "http://app.example.com/callback",
        "https://APP.example.com.evil.example/callback",
        "https://app.example.com.evil.example/callback",
        "https://evil.example/callback",
        "https://app.example.com@evil.example/callback",
        "http://127.0.0.1:51234/cb/../other",
        "http://127.0.0.1:51234/other",
        "http://127.0.0.1:51234/cb?x=1",
        "https://127.0.0.1:51234/cb",
        "http://127.0.0.2/cb",
        "http://127.0.0.1:notaport/cb",
        "http://127.0.0.1:99999/cb",
        "",
        "https://app.example.com/call\nback",
    ],
)
def test_does_not_match(uri: str) -> None:
    assert not matches(REGISTERED, uri)


def test_port_freedom_is_for_loopback_only() -> None:
    assert not matches(["https://app.example.com/cb"], "https://app.example.com:444/cb")
    assert matches(["http://127.0.0.1:8080/cb"], "http://127.0.0.1:9090/cb")


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:80@127.0.0.1/cb",
        "http://127.0.0.1:80@evil.example\\@127.0.0.1/cb",
        "http://localhost:80@evil.example\\@localhost/cb",
    ],
)
def test_a_loopback_uri_with_user_information_never_matches(uri: str) -> None:
    """The port is free on loopback, but the URI must still be one that could be registered: Python reads
    `http://127.0.0.1:80@evil.example\\@127.0.0.1/cb` as a URL on 127.0.0.1, a browser (WHATWG URL, a backslash is
    a slash) as one on evil.example, where the code would go."""
    assert problem(uri) == "must be https, or http on 127.0.0.1, [::1] or localhost, without fragment, user or wildcard"
    assert not matches(REGISTERED, uri)


@pytest.mark.parametrize(
    "uri",
    ["https://*.example.com/cb", "https://example.com/*", "https://example.com/cb#frag", "http://example.com/cb"],
)
def test_what_cannot_be_registered(uri: str) -> None:
    assert problem(uri) is not None


@pytest.mark.parametrize(
    ("registered", "uri"),
    [
        ("https://127.0.0.1/cb", "https://127.0.0.1:8443/cb"),
        ("https://localhost/cb", "https://localhost:8443/cb"),
    ],
)
def test_port_freedom_is_for_http_loopback_only(registered: str, uri: str) -> None:
    """RFC 8252 §7.3 frees the port of a native app's `http` loopback listener; an `https` URI on a loopback
    host is matched exactly, like any other."""
    assert problem(registered) is None
    assert not matches([registered], uri)
    assert matches([registered], registered)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://exämple.com/cb", "non-ASCII host"),
        ("https://xn--exmple-cua.com/cb", None),
        ("https://evil.example\\.app.example.com/cb", "backslash in the host"),
        ("https://bad_host.example.com/cb", "underscore in the host"),
    ],
)
def test_only_ascii_host_names_can_be_registered(uri: str, reason: str | None) -> None:
    """A host is letters, digits, dots and hyphens (an internationalised name in its `xn--` form): a look-alike
    or a host a browser would read otherwise is refused with the rule it breaks."""
    if reason is None:
        assert problem(uri) is None
    else:
        assert problem(uri) == (
            "must be https, or http on 127.0.0.1, [::1] or localhost, without fragment, user or wildcard"
        ), reason
