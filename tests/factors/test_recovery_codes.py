"""Recovery codes: ten, shown once with the first factor, stored as keyed digests, each usable once instead of
a second factor (sign-in and step-up), regenerable (the old ones die)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.factors import RecoveryCode
from tests.factors.conftest import Clock, challenge_of, end_user_with_totp
from tests.support import TenantWorld


async def test_a_recovery_code_signs_in_once(client: httpx.AsyncClient, world: TenantWorld, clock: Clock) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    code = enrolled.recovery_codes[0]
    url = f"{enrolled.base}/login/factor"
    # Case, spaces and dashes do not count.
    typed = f"  {code.upper().replace('-', ' ')} "
    used = await client.post(url, json={"challenge": await challenge_of(client, enrolled), "code": typed})
    assert used.status_code == 200, used.text
    assert used.json()["session"]["amr"] == ["pwd", "rc", "mfa"]
    again = await client.post(url, json={"challenge": await challenge_of(client, enrolled), "code": code})
    assert (again.status_code, again.json()["code"]) == (401, "invalid_code")
    listed = await client.get(f"{enrolled.base}/me/factors", headers=enrolled.auth)
    assert listed.json()["recoveryCodesLeft"] == 9
    named = await client.post(
        url,
        json={
            "challenge": await challenge_of(client, enrolled),
            "factor": "recovery_code",
            "code": enrolled.recovery_codes[1],
        },
    )
    assert named.status_code == 200


async def test_regenerating_kills_the_old_codes(client: httpx.AsyncClient, world: TenantWorld, clock: Clock) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)  # the enrolment stepped this session up
    fresh = await client.post(f"{enrolled.base}/me/recovery-codes", headers=enrolled.auth)
    assert fresh.status_code == 200, fresh.text
    new_codes = fresh.json()["recoveryCodes"]
    assert len(new_codes) == 10
    assert not set(new_codes) & set(enrolled.recovery_codes)
    url = f"{enrolled.base}/login/factor"
    old = await client.post(
        url, json={"challenge": await challenge_of(client, enrolled), "code": enrolled.recovery_codes[0]}
    )
    assert (old.status_code, old.json()["code"]) == (401, "invalid_code")
    new = await client.post(url, json={"challenge": await challenge_of(client, enrolled), "code": new_codes[0]})
    assert new.status_code == 200


async def test_codes_are_stored_as_keyed_digests(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, db: AsyncSession
) -> None:
    user, enrolled = await end_user_with_totp(client, world, clock)
    rows = list(await db.scalars(select(RecoveryCode).where(RecoveryCode.account_id == uuid.UUID(user.account_id))))
    assert len(rows) == 10
    stored = b"".join(row.code_hash for row in rows)
    for code in enrolled.recovery_codes:
        assert code.replace("-", "").encode() not in stored


async def test_the_last_code_goes_from_the_challenges_list(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    for code in enrolled.recovery_codes:
        used = await client.post(
            f"{enrolled.base}/login/factor", json={"challenge": await challenge_of(client, enrolled), "code": code}
        )
        assert used.status_code == 200
    challenged = await client.post(f"{enrolled.base}/login", json=enrolled.login)
    assert challenged.json()["factors"] == ["totp"]
