"""Look-alike usernames: a new username is written in one script (Unicode's recommended scripts for identifiers,
or Latin with Han and the scripts written beside it, as UTS #39's highly restrictive profile allows), so that
`admin1` with a Cyrillic `a` (U+0430) cannot pass for `admin1` in a member list, an audit log or an email.
Every way of choosing a username refuses it with 400 naming the field; usernames stored before still sign in."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.kit.identifiers import normalize_username, one_script
from tests.support import PASSWORD, TenantWorld, tenant_body

CYRILLIC_A, CYRILLIC_E = "\u0430", "\u0435"
GREEK_ALPHA = "\u03b1"


@pytest.mark.parametrize(
    "username",
    [
        "admin1",
        "ada_lovelace.1815",
        "123-456",
        "\u0430\u0434\u043c\u0438\u043d",  # Cyrillic only
        "\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae",  # Greek only, with its accents
        "\u5c71\u7530\u592a\u90ce",  # Han
        "\u3084\u307e\u3060_yamada",  # Hiragana with Latin
        "\u5c71\u7530\u30bf\u30ed\u30a6",  # Han with Katakana
        "\uae40\ucca0\uc218kim",  # Hangul with Latin
    ],
)
def test_one_writing_is_accepted(username: str) -> None:
    assert one_script(username) == username


@pytest.mark.parametrize(
    "username",
    [
        f"{CYRILLIC_A}dmin1",  # Cyrillic among Latin
        f"{GREEK_ALPHA}dmin",  # Greek among Latin
        "\u0430\u0434\u043c\u0438\u043d\u03b1",  # Cyrillic with Greek
        "\uae40\u30bf",  # Hangul with Katakana: no writing has both
        "\u13a0\u13a1\u13a2",  # Cherokee: not among the scripts recommended for identifiers
        "admin\u3164",  # Latin with Hangul may be, but not with an invisible filler (NFKC: U+1160)
        "\u1160admin",
    ],
)
def test_letters_of_two_alphabets_are_refused(username: str) -> None:
    with pytest.raises(ValueError, match="one script"):
        one_script(normalize_username(username))


def assert_refused(response: httpx.Response, field: str = "username") -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation_failed"
    assert "one script" in body["errors"][field], body


@pytest.mark.asvs("VAL-01")
async def test_every_way_of_choosing_a_username_refuses_a_mixed_one(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    holder = await world.add_end_user(world.environment_id)
    look_alike = holder.username.replace("e", CYRILLIC_E, 1)  # `end_…` with a Cyrillic e (U+0435)
    tag = uuid.uuid4().hex[:8]
    person = {"name": f"Mallory {tag}", "email": f"mallory-{tag}@example.com", "password": PASSWORD}

    assert_refused(
        await client.post(
            f"/api/v1/auth/environments/{world.environment_id}/signup", json={**person, "username": look_alike}
        )
    )
    assert_refused(
        await client.post(
            f"/api/v1/environments/{world.environment_id}/accounts",
            json={**person, "username": look_alike},
            headers=world.owner.auth,
        )
    )
    assert_refused(
        await client.patch(
            f"/api/v1/environments/{world.environment_id}/accounts/{holder.account_id}/username",
            json={"username": f"{CYRILLIC_A}dmin"},
            headers=world.owner.auth,
        )
    )
    body = tenant_body()
    body["account"]["username"] = f"{CYRILLIC_A}dmin{tag}"
    assert_refused(await client.post("/api/v1/tenants", json=body), "account.username")
    roles = [{"role": "user", "target": "tenant", "targetId": world.tenant_id}]
    member = {**person, "username": f"{CYRILLIC_A}dmin", "roles": roles}
    assert_refused(await client.post(f"{world.base}/accounts", json=member, headers=world.owner.auth))

    one_writing = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/signup",
        json={**person, "username": f"\u0430\u0434\u043c\u0438\u043d_{uuid.uuid4().int % 10**8}"},
    )
    assert one_writing.status_code == 201, one_writing.text


async def test_a_username_stored_before_the_rule_still_signs_in(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """The rule is on choosing a username, not on signing in: an account imported or made before it keeps its
    way in."""
    user = await world.add_end_user(world.environment_id)
    stored = f"{CYRILLIC_A}dmin_{uuid.uuid4().hex[:8]}"
    await db.execute(
        update(EnvironmentAccount).where(EnvironmentAccount.id == uuid.UUID(user.account_id)).values(username=stored)
    )
    await db.commit()
    signed_in = await client.post(f"{user.auth_base}/login", json={"username": stored, "password": user.password})
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["accountId"] == user.account_id
