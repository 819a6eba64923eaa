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
    ["https://*.example.com/cb", "https://example.com/*", "https://example.com/cb#frag", "http://example.com/cb"],
)
def test_what_cannot_be_registered(uri: str) -> None:
    assert problem(uri) is not None
