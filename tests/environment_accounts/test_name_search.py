"""End users found by a prefix of their name beyond ASCII, the same on both databases: the name and the prefix
are folded alike (NFKC, then case-folded), so `ß` is `ss`, `É` is `é` and a combining accent is the
precomposed letter."""

from __future__ import annotations

import httpx
import pytest

from tests.environment_accounts.test_end_users import accounts_url, create_end_user
from tests.support import TenantWorld, signup_body

COMBINING_ACUTE = "\u0301"
FULL = "\uff26\uff55\uff4c\uff4c"  # `Full` in full-width letters: NFKC makes them ASCII


async def found(client: httpx.AsyncClient, world: TenantWorld, q: str) -> list[str]:
    page = await client.get(accounts_url(world), params={"q": q}, headers=world.owner.auth)
    assert page.status_code == 200, page.text
    return [account["id"] for account in page.json()]


@pytest.mark.parametrize(
    ("name", "prefixes"),
    [
        ("Straße Weg", ["strasse", "STRASSE", "straße", "Straße", "STRAẞE"]),
        ("Élodie Dupont", ["élodie", "ÉLODIE", "Élo"]),
        (f"Zoe{COMBINING_ACUTE} Decomposed", ["zoé", "ZOÉ", f"zoe{COMBINING_ACUTE}"]),
        ("Renée Precomposed", [f"rene{COMBINING_ACUTE}e", f"RENE{COMBINING_ACUTE}E", "renée"]),
        (f"{FULL} Width", ["full", "FULL", FULL[:3].lower()]),
    ],
)
async def test_an_end_user_is_found_by_a_folded_prefix_of_the_name(
    client: httpx.AsyncClient, world: TenantWorld, name: str, prefixes: list[str]
) -> None:
    other = await create_end_user(client, world, name="Someone Else")
    account_id = await create_end_user(client, world, name=name)
    for prefix in prefixes:
        assert await found(client, world, prefix) == [account_id], prefix
    assert await found(client, world, "some") == [other]


async def test_a_renamed_end_user_is_found_by_the_new_name_only(client: httpx.AsyncClient, world: TenantWorld) -> None:
    account_id = await create_end_user(client, world, name="Straße Alt")
    assert await found(client, world, "strasse") == [account_id]
    renamed = await client.patch(
        f"{accounts_url(world)}/{account_id}", json={"name": "Élodie Neu"}, headers=world.owner.auth
    )
    assert renamed.status_code == 204, renamed.text
    assert await found(client, world, "strasse") == []
    assert await found(client, world, "straße") == []
    assert await found(client, world, "ÉLODIE") == [account_id]
    unchanged = await client.patch(
        f"{accounts_url(world)}/{account_id}", json={"avatarUrl": "https://example.com/a.png"}, headers=world.owner.auth
    )
    assert unchanged.status_code == 204, unchanged.text
    assert await found(client, world, "élodie") == [account_id], "another field's change keeps the key"


async def test_an_end_user_who_signed_up_is_found_by_a_folded_prefix(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    signup = signup_body(name="ÉLODIE Straße")
    answer = await client.post(f"/api/v1/auth/environments/{world.environment_id}/signup", json=signup)
    assert answer.status_code == 201, answer.text
    assert await found(client, world, "élodie s") == [answer.json()["accountId"]]
