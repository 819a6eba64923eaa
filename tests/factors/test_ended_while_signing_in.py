"""An account deleted, or an owner disabled, while one of its sign-ins holds a way in: a passkey (username-less
or after the identifier), a second step's challenge and factor, a recovery code. The deletion ends the account's
ways in before its row, in the order a sign-in takes them (a link, a challenge, a code or factor, then the
account's row); the owners' lock that keeps a tenant from losing its last owner leaves a new session free to refer
to the row (`FOR NO KEY UPDATE`). So the change waits for that sign-in and then takes its session along. Neither
waits for the other in a circle, which PostgreSQL would end by refusing one of them (503 `concurrent_change`).
SQLite lets one writer through: there the change waits for the sign-in's transaction as a whole."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sump.auth import service as auth_service
from sump.factors import service as factor_service
from sump.tenant_accounts import service as tenant_service
from tests.factors.authenticator import ORIGIN
from tests.factors.conftest import Clock, Enrolled, challenge_of, end_user_with_totp, member_with_totp
from tests.factors.softkey import SoftKey
from tests.factors.test_passkeys import passkey_environment, soft_passkey_user
from tests.kit.http_support import errors_logged
from tests.support import TenantWorld, assert_gone_with_its_sessions, during, sign_in_while

CONSOLE = "http://sump.test"  # the tests' `SUMP_PUBLIC_URL`: the relying party of tenant accounts' passkeys


async def _passkey_account(
    client: httpx.AsyncClient, world: TenantWorld, family: str
) -> tuple[str, str, str, SoftKey, str, str]:
    """An account of `family` with a passkey: its id, auth base, username, key, the key's origin, admin URL."""
    if family == "environment":
        environment_id = await passkey_environment(world)
        user, key = await soft_passkey_user(client, world, environment_id)
        admin = f"/api/v1/environments/{environment_id}/accounts/{user.account_id}"
        return user.account_id, user.auth_base, user.username, key, ORIGIN, admin
    member, key = await world.add_member("user"), SoftKey(rp_id="sump.test")
    base = f"/api/v1/auth/tenants/{world.tenant_id}"
    options = await client.post(f"{base}/me/factors/passkey/options", headers=member.auth)
    credential = key.create(options.json()["publicKey"], origin=CONSOLE)
    registered = await client.post(f"{base}/me/factors/passkey", json={"credential": credential}, headers=member.auth)
    assert registered.status_code == 201, registered.text
    return member.account_id, base, member.username, key, CONSOLE, f"{world.base}/accounts/{member.account_id}"


BEFORE_THE_SESSION = (auth_service, "_signed_in")  # the challenge, and the factor or code, held
BEFORE_THE_PASSKEY_IS_READ = (factor_service, "check_passkey")  # the challenge alone held
BEFORE_THE_CHALLENGE_IS_USED_UP = (factor_service, "close_challenge")  # the challenge, then the factor or code


@pytest.mark.parametrize(
    ("family", "after_identifier", "at"),
    [
        pytest.param("tenant", False, BEFORE_THE_SESSION, id="tenant-username-less"),
        pytest.param("tenant", True, BEFORE_THE_SESSION, id="tenant-after its identifier"),
        pytest.param("environment", False, BEFORE_THE_SESSION, id="environment-username-less"),
        pytest.param("environment", True, BEFORE_THE_SESSION, id="environment-after its identifier"),
        pytest.param("environment", True, BEFORE_THE_PASSKEY_IS_READ, id="environment-before the passkey is read"),
    ],
)
async def test_an_account_deleted_while_its_passkey_signs_it_in_goes_with_that_session(
    client: httpx.AsyncClient,
    world: TenantWorld,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    family: str,
    after_identifier: bool,
    at: tuple[Any, str],
) -> None:
    """The sign-in holds the passkey's row (its sign count), and after an identifier its challenge's first, used
    up before the passkey is read: the deletion ends challenges before factors, so it waits at the challenge and
    leaves the passkey to the sign-in."""
    account_id, base, username, key, origin, admin = await _passkey_account(client, world, family)
    options = await client.post(
        f"{base}/login/passkey/options", json={"username": username} if after_identifier else {}
    )
    answer = {"credential": key.get(options.json()["publicKey"], origin=origin)}

    signed_in, deleted = await sign_in_while(
        client,
        db,
        monkeypatch,
        (f"{base}/login/passkey", answer),
        lambda: client.delete(admin, headers=world.owner.auth),
        at=at,
    )

    await assert_gone_with_its_sessions(client, db, account_id, signed_in, deleted)


@pytest.mark.parametrize("at", [BEFORE_THE_SESSION, BEFORE_THE_CHALLENGE_IS_USED_UP], ids=lambda at: at[1])
@pytest.mark.parametrize("answer", ["totp", "recovery code"])
@pytest.mark.parametrize("family", ["tenant user", "tenant owner", "environment"])
async def test_an_account_deleted_during_its_second_step_goes_with_that_session(
    client: httpx.AsyncClient,
    world: TenantWorld,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
    family: str,
    answer: str,
    at: tuple[Any, str],
) -> None:
    """The second step holds its challenge's row from its start, then the factor's (its last step used) or the
    code's, and uses the challenge up last; an owner's deletion also locks the tenant's owners."""
    enrolled: Enrolled
    if family.startswith("tenant"):
        member, enrolled = await member_with_totp(client, world, clock, role=family.split()[1])
        account_id, admin = member.account_id, f"{world.base}/accounts/{member.account_id}"
    else:
        user, enrolled = await end_user_with_totp(client, world, clock)
        account_id = user.account_id
        admin = f"/api/v1/environments/{user.environment_id}/accounts/{user.account_id}"
    proof = {"code": clock.code(enrolled.seed)}
    if answer == "recovery code":
        proof = {"factor": "recovery_code", "code": enrolled.recovery_codes[0]}
    step = {"challenge": await challenge_of(client, enrolled), **proof}

    signed_in, deleted = await sign_in_while(
        client,
        db,
        monkeypatch,
        (f"{enrolled.base}/login/factor", step),
        lambda: client.delete(admin, headers=world.owner.auth),
        at=at,
    )

    await assert_gone_with_its_sessions(client, db, account_id, signed_in, deleted)


@pytest.mark.parametrize("at", [BEFORE_THE_SESSION, BEFORE_THE_CHALLENGE_IS_USED_UP], ids=lambda at: at[1])
async def test_an_owner_disabled_during_its_second_step_loses_that_session(
    client: httpx.AsyncClient,
    world: TenantWorld,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
    at: tuple[Any, str],
) -> None:
    """Disabling an owner ends the sign-ins in progress, then locks the tenant's enabled owners (the last one may
    not go): the second step holding its challenge is waited for, and its session ended."""
    member, enrolled = await member_with_totp(client, world, clock, role="owner")
    step = {"challenge": await challenge_of(client, enrolled), "code": clock.code(enrolled.seed)}
    disable = f"{world.base}/accounts/{member.account_id}/disable"

    signed_in, disabled = await sign_in_while(
        client,
        db,
        monkeypatch,
        (f"{enrolled.base}/login/factor", step),
        lambda: client.patch(disable, headers=world.owner.auth),
        at=at,
    )

    await assert_gone_with_its_sessions(client, db, member.account_id, signed_in, disabled)


async def test_an_owner_deleted_and_disabled_at_once_is_deleted_and_nothing_waits_in_a_circle(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    """Two owners act on a third at the same moment, one deleting it, the other disabling it. Both end its ways
    in (here a sign-in's challenge) before they lock the owners' rows, so the second waits for the first at the
    challenge. The deletion wins; the disabling then finds the account's row gone: 503 `concurrent_change`, and
    sent again, 404."""
    third, enrolled = await member_with_totp(client, world, clock, role="owner")
    await challenge_of(client, enrolled)
    second = await world.add_member("owner")
    url = f"{world.base}/accounts/{third.account_id}"

    with errors_logged(monkeypatch) as logs:
        deleted, disabled = await during(
            client.delete(url, headers=world.owner.auth),
            (tenant_service, "ensure_not_last_owner"),
            lambda: client.patch(f"{url}/disable", headers=second.auth),
            db,
            monkeypatch,
        )

    assert deleted.status_code == 204, deleted.text
    assert (disabled.status_code, disabled.json()["code"]) == (503, "concurrent_change"), disabled.text
    assert disabled.headers["retry-after"] == "1"
    [conflict] = [entry for entry in logs if entry["event"] == "database_conflict"]
    assert (conflict["sqlstate"], conflict["row_deleted_meanwhile"]) == (None, True), "not a deadlock's victim"
    again = await client.patch(f"{url}/disable", headers=second.auth)
    assert (again.status_code, again.json()["code"]) == (404, "account_not_found")
