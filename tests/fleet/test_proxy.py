"""What the nodes believe of a request's forwarding headers: `X-Forwarded-For` from the proxy (127.0.0.2, the
one `SUMP_TRUSTED_PROXIES` lists) only, and `X-Forwarded-Proto` / `X-Forwarded-Host` from nobody: the issuer,
the links and the cookies follow `SUMP_PUBLIC_URL`."""

from __future__ import annotations

import pytest

from tests.fleet.fleet import Fleet, Tenant
from tests.support import PASSWORD, set_cookies

pytestmark = pytest.mark.fleet
FORGED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example"}


def signed_in_from(fleet: Fleet, tenant: Tenant, url: str, address: str) -> str:
    """The address a session made through `url` by a client at `address` (sending `FORGED`) was recorded from."""
    user = fleet.new_end_user(tenant)
    base = f"/api/v1/auth/environments/{tenant.environment_id}"
    with fleet.client(url, address) as http:
        signed_in = http.post(f"{base}/login", json={"username": user.username, "password": PASSWORD}, headers=FORGED)
        assert signed_in.status_code == 200, signed_in.text
        cookies = set_cookies(signed_in)
        assert "sump_session" in cookies, cookies
        assert all(cookie.secure for cookie in cookies.values()), cookies
        assert signed_in.headers["strict-transport-security"].startswith("max-age=")
        sessions = http.get(f"{base}/sessions", headers={"Authorization": f"Bearer {signed_in.json()['token']}"})
    [current] = [session for session in sessions.json() if session.get("current")]
    recorded: str = current["ipAddress"]
    assert signed_in.json()["session"]["ipAddress"] == recorded
    return recorded


def test_the_proxy_says_who_the_client_is_and_replaces_what_the_client_said(fleet: Fleet, tenant: Tenant) -> None:
    address = fleet.new_address()
    assert signed_in_from(fleet, tenant, fleet.public_url, address) == address


def test_a_client_that_reaches_a_node_directly_is_not_believed(fleet: Fleet, tenant: Tenant) -> None:
    for node in fleet.nodes:
        address = fleet.new_address()
        assert signed_in_from(fleet, tenant, node.base_url, address) == address, node.base_url


def test_the_issuer_is_the_public_url_whatever_a_client_forwards(fleet: Fleet, tenant: Tenant) -> None:
    path = f"/api/v1/environments/{tenant.environment_id}/.well-known/openid-configuration"
    for url in fleet.everywhere:
        with fleet.client(url) as http:
            discovery = http.get(path, headers=FORGED)
        assert discovery.status_code == 200, discovery.text
        assert discovery.json()["issuer"] == f"{fleet.public_url}/api/v1/environments/{tenant.environment_id}"
