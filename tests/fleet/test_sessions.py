"""A session is one session whichever node answers: made on node 1, checked on node 2, ended on node 3."""

from __future__ import annotations

import pytest

from tests.fleet.fleet import Fleet, Tenant
from tests.support import PASSWORD

pytestmark = pytest.mark.fleet


def test_signed_in_on_one_node_checked_on_another_and_signed_out_on_a_third(fleet: Fleet, tenant: Tenant) -> None:
    user = fleet.new_end_user(tenant)
    base = f"/api/v1/auth/environments/{tenant.environment_id}"
    first, second, third = (node.base_url for node in fleet.nodes)
    with fleet.client(first) as http:
        signed_in = http.post(f"{base}/login", json={"username": user.username, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    token, session_id = signed_in.json()["token"], signed_in.json()["session"]["id"]
    bearer = {"Authorization": f"Bearer {token}"}

    with fleet.client(second) as http:
        checked = http.get(f"{base}/session", headers=bearer)
    assert checked.status_code == 200, checked.text
    assert checked.json()["id"] == session_id
    for url in fleet.everywhere:
        with fleet.client(url) as http:
            assert http.get(f"{base}/session", headers=bearer).json()["id"] == session_id, url

    with fleet.client(third) as http:
        assert http.post(f"{base}/logout", headers=bearer).status_code == 204

    for url in fleet.everywhere:
        with fleet.client(url) as http:
            ended = http.get(f"{base}/session", headers=bearer)
        assert (ended.status_code, ended.json()["code"]) == (401, "unauthenticated"), url
    # The end user's other session (from signing up) is untouched: sign-out ends this session only.
    with fleet.client(fleet.public_url) as http:
        assert http.get(f"{base}/session", headers=user.auth).status_code == 200
