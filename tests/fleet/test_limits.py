"""Rate limits and the lockout count in Redis, so attempts spread over the nodes are counted together, whether
the client reaches the nodes directly or through the proxy (which says who the client is)."""

from __future__ import annotations

import itertools

import httpx
import pytest

from tests.fleet.fleet import Fleet, Tenant
from tests.support import PASSWORD
from tests.test_serve_limits import within_one_window_of_the_clock

pytestmark = pytest.mark.fleet
CREATE_PER_IP = 10  # tenants made per address and minute (`sump.onboarding.service.CREATE_PER_IP`)
LOCK_AFTER = 10  # failed sign-ins of one source before it is refused (`SUMP_LOCKOUT_THRESHOLD`'s default)
LOCKOUT_WINDOW_SECONDS = 15 * 60  # `SUMP_LOCKOUT_WINDOW_MINUTES`'s default


def assert_refused(response: httpx.Response, code: str, most_seconds: int) -> None:
    assert (response.status_code, response.json()["code"]) == (429, code), response.text
    assert 1 <= int(response.headers["Retry-After"]) <= most_seconds


def test_a_per_address_limit_counts_the_requests_every_node_answered(fleet: Fleet) -> None:
    address = fleet.new_address()
    nodes = [fleet.client(node.base_url, address) for node in fleet.nodes]
    within_one_window_of_the_clock(10)  # the budget is counted in clock minutes
    try:
        answers = [
            http.post("/api/v1/tenants", json={"tenant": {}})
            for http, _ in zip(itertools.cycle(nodes), range(CREATE_PER_IP))
        ]
        refused = nodes[CREATE_PER_IP % len(nodes)].post("/api/v1/tenants", json={"tenant": {}})
    finally:
        for http in nodes:
            http.close()
    assert [(answer.status_code, answer.json()["code"]) for answer in answers] == [
        (400, "validation_failed")
    ] * CREATE_PER_IP
    assert_refused(refused, "rate_limited", 60)


def test_through_the_proxy_each_client_address_has_its_own_limit(fleet: Fleet) -> None:
    """nginx spreads the requests over the nodes; the nodes count them under the address nginx says sent them."""
    address = fleet.new_address()
    within_one_window_of_the_clock(10)
    with fleet.client(fleet.public_url, address) as http:
        answers = [http.post("/api/v1/tenants", json={"tenant": {}}).status_code for _ in range(CREATE_PER_IP)]
        refused = http.post("/api/v1/tenants", json={"tenant": {}})
    assert answers == [400] * CREATE_PER_IP
    assert_refused(refused, "rate_limited", 60)
    with fleet.client(fleet.public_url) as elsewhere:  # another client of the same proxy is not held back
        assert elsewhere.post("/api/v1/tenants", json={"tenant": {}}).status_code == 400


def test_the_lockout_counts_failures_on_every_node_together(fleet: Fleet, tenant: Tenant) -> None:
    user = fleet.new_end_user(tenant)
    login = f"/api/v1/auth/environments/{tenant.environment_id}/login"
    address = fleet.new_address()
    nodes = [fleet.client(node.base_url, address) for node in fleet.nodes]
    try:
        for attempt, http in zip(range(LOCK_AFTER), itertools.cycle(nodes)):
            failed = http.post(login, json={"username": user.username, "password": f"wrong {attempt}"})
            assert (failed.status_code, failed.json()["code"]) == (401, "invalid_credentials"), attempt
        for http in nodes:  # now even the right password is refused, on every node
            assert_refused(
                http.post(login, json={"username": user.username, "password": PASSWORD}),
                "too_many_attempts",
                LOCKOUT_WINDOW_SECONDS,
            )
    finally:
        for http in nodes:
            http.close()
    with fleet.client(fleet.public_url, address) as proxied:  # the same client through the proxy
        refused = proxied.post(login, json={"username": user.username, "password": PASSWORD})
    assert_refused(refused, "too_many_attempts", LOCKOUT_WINDOW_SECONDS)
    with fleet.client(fleet.public_url) as owner:  # the account's owner, elsewhere, is not locked out
        assert owner.post(login, json={"username": user.username, "password": PASSWORD}).status_code == 200


def test_failures_through_the_proxy_hold_the_client_back_on_every_node(fleet: Fleet, tenant: Tenant) -> None:
    user = fleet.new_end_user(tenant)
    login = f"/api/v1/auth/environments/{tenant.environment_id}/login"
    address = fleet.new_address()
    with fleet.client(fleet.public_url, address) as proxied:
        for attempt in range(LOCK_AFTER):
            assert (
                proxied.post(login, json={"username": user.username, "password": f"wrong {attempt}"}).status_code == 401
            )
        assert_refused(
            proxied.post(login, json={"username": user.username, "password": PASSWORD}),
            "too_many_attempts",
            LOCKOUT_WINDOW_SECONDS,
        )
    for node in fleet.nodes:
        with fleet.client(node.base_url, address) as direct:
            refused = direct.post(login, json={"username": user.username, "password": PASSWORD})
        assert_refused(refused, "too_many_attempts", LOCKOUT_WINDOW_SECONDS)
