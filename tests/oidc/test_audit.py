"""The code flow leaves its trail in the environment's audit log: the code issued, the tokens it gave, a
replay refused, each naming the client and never a code or token."""

from __future__ import annotations

import httpx

from tests.oidc.support import code_for, exchange, new_rp
from tests.support import TenantWorld


async def test_the_code_flow_is_audited_without_secrets(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    issued = await exchange(client, rp, code)
    assert issued.status_code == 200
    assert (await exchange(client, rp, code)).status_code == 400
    response = await client.get(f"/api/v1/environments/{world.environment_id}/audit-events", headers=world.owner.auth)
    assert response.status_code == 200, response.text
    events = {event["action"]: event for event in response.json()}
    assert events["oauth.code_issued"]["details"] == {"clientId": rp.client_id}
    assert events["oauth.code_issued"]["actorId"] == user.account_id
    assert events["token.issued"]["details"] == {"grant": "authorization_code", "clientId": rp.client_id}
    assert events["oauth.code_replayed"]["outcome"] == "failure"
    log = response.text
    for secret in (code, issued.json()["access_token"], issued.json()["refresh_token"], rp.secret or "-"):
        assert secret not in log
