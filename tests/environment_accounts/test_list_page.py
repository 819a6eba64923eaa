"""The admin list renders its page itself, from plain rows: byte for byte what the framework renders for the
same end users (each one's `GET …/accounts/{id}` goes through the framework's response model)."""

from __future__ import annotations

import httpx

from tests.support import TenantWorld


async def test_a_page_is_the_framework_rendering_of_each_end_user(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    base = f"/api/v1/environments/{world.environment_id}/accounts"
    await world.add_end_user(world.environment_id)
    created = await client.post(
        base,
        json={
            "name": "Zoë Ångström “quoted” \\ 東京",
            "email": "zoe@example.com",
            "username": "zoe_a",
            "phone": "+14155550123",
            "avatarUrl": "https://example.com/a.png",
            "customProperties": {"plan": "pro", "nested": {"a": [1, 2.5, None, True]}},
            "metadata": {"tier": 3},
        },
        headers=world.owner.auth,
    )
    assert created.status_code == 201, created.text
    disabled = await world.add_end_user(world.environment_id)
    answer = await client.patch(f"{base}/{disabled.account_id}/disable", headers=world.owner.auth)
    assert answer.status_code == 204, answer.text

    listed = await client.get(f"{base}?limit=2", headers=world.owner.auth)
    rest = await client.get(listed.headers["link"].split(";")[0].strip("<>"), headers=world.owner.auth)
    assert listed.status_code == rest.status_code == 200
    assert listed.headers["content-type"] == "application/json"
    assert "link" not in rest.headers  # the last page is not full
    ids = [user["id"] for user in listed.json() + rest.json()]
    assert len(ids) == 3
    assert ids == sorted(ids)
    singles = [(await client.get(f"{base}/{account_id}", headers=world.owner.auth)).content for account_id in ids]
    assert listed.content == b"[" + b",".join(singles[:2]) + b"]"
    assert rest.content == b"[" + singles[2] + b"]"
    assert listed.headers["content-length"] == str(len(listed.content))
