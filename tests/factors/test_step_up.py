"""Step-up: an account with a second factor changes its email, password or factors, deletes accounts and
rotates keys only within 5 minutes of using a factor in this session (403 `step_up_required` otherwise);
`POST …/step-up` proves one again. An account without a factor is asked only for its first factor, which needs
a sign-in within 5 minutes or its password again."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from sump.db.base import utcnow
from sump.sessions import service as sessions
from tests.clients.support import automation
from tests.factors.conftest import (
    Clock,
    Enrolled,
    challenge_of,
    end_user_with_totp,
    enrol_totp,
    member_with_totp,
    tag,
)
from tests.support import PASSWORD, TenantWorld, bearer

NEW_PASSWORD = "an entirely different passphrase"


def later(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    """Moves the sessions' clock (what step-up is checked against) forward by `delta`."""
    base = utcnow()
    monkeypatch.setattr(sessions, "utcnow", lambda: base + delta)


async def _step_up(client: httpx.AsyncClient, enrolled: Enrolled, code: str) -> httpx.Response:
    return await client.post(f"{enrolled.base}/step-up", json={"code": code}, headers=enrolled.auth)


async def test_step_up_is_needed_after_five_minutes_and_lasts_five(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)  # the enrolment used a factor: stepped up now
    change = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    later(monkeypatch, timedelta(minutes=5, seconds=1))
    refused = await client.post(f"{enrolled.base}/change-password", json=change, headers=enrolled.auth)
    assert refused.status_code == 403
    assert refused.json()["code"] == "step_up_required"

    stepped = await _step_up(client, enrolled, clock.code(enrolled.seed))
    assert stepped.status_code == 200, stepped.text
    until = datetime.fromisoformat(stepped.json()["elevatedUntil"])
    now = sessions.utcnow()  # type: ignore[attr-defined]  # the clock moved by `later`
    assert timedelta(minutes=4, seconds=50) < until - now <= timedelta(minutes=5)
    shown = await client.get(f"{enrolled.base}/session", headers=enrolled.auth)
    assert shown.json()["elevatedUntil"] == stepped.json()["elevatedUntil"]

    later(monkeypatch, timedelta(minutes=5, seconds=1) + timedelta(minutes=4, seconds=59))
    done = await client.post(f"{enrolled.base}/change-password", json=change, headers=enrolled.auth)
    assert done.status_code == 204, done.text

    later(monkeypatch, timedelta(minutes=10, seconds=2))
    back = {"currentPassword": NEW_PASSWORD, "newPassword": PASSWORD}
    expired = await client.post(f"{enrolled.base}/change-password", json=back, headers=enrolled.auth)
    assert (expired.status_code, expired.json()["code"]) == (403, "step_up_required")


async def test_a_wrong_code_does_not_step_up(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, enrolled = await end_user_with_totp(client, world, clock)
    later(monkeypatch, timedelta(minutes=6))
    wrong = await _step_up(client, enrolled, clock.code(enrolled.seed, 3))
    assert (wrong.status_code, wrong.json()["code"]) == (403, "invalid_code")
    refused = await client.post(f"{enrolled.base}/me/recovery-codes", headers=enrolled.auth)
    assert (refused.status_code, refused.json()["code"]) == (403, "step_up_required")
    with_code = await _step_up(client, enrolled, enrolled.recovery_codes[0])
    assert with_code.status_code == 200
    assert (await _step_up(client, enrolled, enrolled.recovery_codes[0])).status_code == 403  # used up


async def test_a_code_answers_a_sign_in_or_a_step_up_not_both(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    """A code seen once (over a shoulder, by a phishing page) must not serve a second time in the other place."""
    _, enrolled = await end_user_with_totp(client, world, clock)
    code = clock.code(enrolled.seed)
    challenge = await challenge_of(client, enrolled)
    signed_in = await client.post(f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": code})
    assert signed_in.status_code == 200, signed_in.text
    replayed = await _step_up(client, enrolled, code)
    assert (replayed.status_code, replayed.json()["code"]) == (403, "invalid_code")

    clock.tick()
    fresh = clock.code(enrolled.seed)
    assert (await _step_up(client, enrolled, fresh)).status_code == 200
    challenge = await challenge_of(client, enrolled)
    for used in (fresh, clock.code(enrolled.seed, -1)):  # the step-up's code, and the earlier step's
        again = await client.post(f"{enrolled.base}/login/factor", json={"challenge": challenge, "code": used})
        assert (again.status_code, again.json()["code"]) == (401, "invalid_code")


async def test_accounts_without_a_factor_step_up_with_their_password_not_a_code(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    response = await client.post(f"{user.auth_base}/step-up", json={"code": "123456"}, headers=user.auth)
    assert (response.status_code, response.json()["code"]) == (403, "no_factor")
    change = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    assert (await client.post(f"{user.auth_base}/change-password", json=change, headers=user.auth)).status_code == 204
    both = {"code": "123456", "currentPassword": NEW_PASSWORD}
    invalid = await client.post(f"{user.auth_base}/step-up", json=both, headers=user.auth)
    assert (invalid.status_code, invalid.json()["code"]) == (400, "validation_failed")


@pytest.mark.asvs("SESS-12")
@pytest.mark.parametrize("family", ["end user", "tenant account"])
async def test_a_first_factor_needs_a_recent_sign_in_or_the_password_again(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch, family: str
) -> None:
    """A stolen session of an account without a factor must not enrol the thief's own: it would ask the owner for
    a code they do not have, past a password reset (an account whose email is verified keeps its factors)."""
    if family == "end user":
        holder = await world.add_end_user(world.environment_id)
        base, token = holder.auth_base, holder.token
    else:
        member = await world.add_member("admin")
        base, token = f"/api/v1/auth/tenants/{world.tenant_id}", member.token
    auth = bearer(token)
    later(monkeypatch, timedelta(minutes=5, seconds=1))
    for url in (f"{base}/me/factors/totp", f"{base}/me/factors/passkey/options"):
        refused = await client.post(url, json={} if url.endswith("totp") else None, headers=auth)
        assert refused.status_code == 403, (url, refused.text)
        assert refused.json()["code"] == "step_up_required"
        assert "password" in refused.json()["detail"]
    assert (await client.get(f"{base}/me/factors", headers=auth)).json()["factors"] == []

    wrong = await client.post(f"{base}/step-up", json={"currentPassword": NEW_PASSWORD}, headers=auth)
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    assert (await client.post(f"{base}/me/factors/totp", json={}, headers=auth)).status_code == 403
    stepped = await client.post(f"{base}/step-up", json={"currentPassword": PASSWORD}, headers=auth)
    assert stepped.status_code == 200, stepped.text
    seed, _, codes = await enrol_totp(client, base, token, clock)
    assert len(codes) == 10
    assert seed

    # Five minutes on, the factor itself is what steps up: the password no longer does.
    later(monkeypatch, timedelta(minutes=10, seconds=2))
    assert (await client.post(f"{base}/me/factors/totp", json={}, headers=auth)).json()["code"] == "step_up_required"
    password = await client.post(f"{base}/step-up", json={"currentPassword": PASSWORD}, headers=auth)
    assert (password.status_code, password.json()["code"]) == (403, "second_factor_required")
    assert (await client.post(f"{base}/me/factors/totp", json={}, headers=auth)).status_code == 403
    assert (await client.post(f"{base}/step-up", json={"code": clock.code(seed)}, headers=auth)).status_code == 200
    assert (await client.post(f"{base}/me/factors/totp", json={}, headers=auth)).status_code == 201


@pytest.mark.asvs("SESS-12")
@pytest.mark.parametrize("family", ["end user", "tenant account"])
async def test_deleting_ones_own_account_needs_a_recent_sign_in_or_the_password_again(
    client: httpx.AsyncClient, world: TenantWorld, monkeypatch: pytest.MonkeyPatch, family: str
) -> None:
    """A stolen session must not erase its owner's account either, factor or not; deleting someone else's
    account (an admin's work) asks a step-up only of an admin with a factor, as before."""
    if family == "end user":
        user = await world.add_end_user(world.environment_id)
        other_user = await world.add_end_user(world.environment_id)
        accounts = f"/api/v1/environments/{world.environment_id}/accounts"
        base, auth, url = user.auth_base, user.auth, f"{accounts}/{user.account_id}"
        others_url = f"{accounts}/{other_user.account_id}"
    else:
        owner, other_member = await world.add_member("owner"), await world.add_member("user")
        base, auth = f"/api/v1/auth/tenants/{world.tenant_id}", owner.auth
        url = f"{world.base}/accounts/{owner.account_id}"
        others_url = f"{world.base}/accounts/{other_member.account_id}"
    later(monkeypatch, timedelta(minutes=5, seconds=1))
    refused = await client.delete(url, headers=auth)
    assert (refused.status_code, refused.json()["code"]) == (403, "step_up_required"), refused.text
    assert "password" in refused.json()["detail"]
    assert (await client.get(f"{base}/session", headers=auth)).status_code == 200  # nothing was deleted
    if family == "tenant account":  # an owner deletes another account from the same old session, as before
        assert (await client.delete(others_url, headers=auth)).status_code == 204
    else:
        assert (await client.delete(others_url, headers=world.owner.auth)).status_code == 204

    stepped = await client.post(f"{base}/step-up", json={"currentPassword": PASSWORD}, headers=auth)
    assert stepped.status_code == 200, stepped.text
    assert (await client.delete(url, headers=auth)).status_code == 204
    assert (await client.get(f"{base}/session", headers=auth)).status_code == 401


@pytest.mark.asvs("SESS-12")
async def test_deleting_the_tenant_needs_a_recent_sign_in_or_the_password_again(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting the tenant erases its owner's own account with everything else: as for that account alone, a
    stolen session of an owner must not do it, factor (step-up with it) or not (a recent sign-in, or the
    password again)."""
    _, with_factor = await member_with_totp(client, world, clock, role="owner")
    owner = await world.add_member("owner")
    later(monkeypatch, timedelta(minutes=5, seconds=1))
    for auth in (with_factor.auth, owner.auth):
        refused = await client.delete(world.base, headers=auth)
        assert (refused.status_code, refused.json()["code"]) == (403, "step_up_required"), refused.text
    assert "password" in refused.json()["detail"]
    assert (await client.get(world.base, headers=world.owner.auth)).status_code == 200  # nothing was deleted

    base = f"/api/v1/auth/tenants/{world.tenant_id}"
    stepped = await client.post(f"{base}/step-up", json={"currentPassword": PASSWORD}, headers=owner.auth)
    assert stepped.status_code == 200, stepped.text
    assert (await client.delete(world.base, headers=owner.auth)).status_code == 204
    assert (await client.get(f"{base}/session", headers=owner.auth)).status_code == 401


async def test_a_session_signed_in_within_five_minutes_enrols_its_first_factor(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await world.add_end_user(world.environment_id)
    later(monkeypatch, timedelta(minutes=4, seconds=50))
    started = await client.post(f"{user.auth_base}/me/factors/totp", json={}, headers=user.auth)
    assert started.status_code == 201, started.text
    later(monkeypatch, timedelta(minutes=9))
    signed_in = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert signed_in.status_code == 200
    fresh = bearer(signed_in.json()["token"])
    assert (await client.post(f"{user.auth_base}/me/factors/totp", json={}, headers=fresh)).status_code == 201
    old = await client.post(f"{user.auth_base}/me/factors/totp", json={}, headers=user.auth)
    assert (old.status_code, old.json()["code"]) == (403, "step_up_required")


async def test_wrong_passwords_at_step_up_count_toward_the_lockout(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    for _ in range(6):  # the lockout's free attempts, and the one that starts its pacing
        wrong = await client.post(f"{user.auth_base}/step-up", json={"currentPassword": "guess"}, headers=user.auth)
        assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    held = await client.post(f"{user.auth_base}/step-up", json={"currentPassword": PASSWORD}, headers=user.auth)
    assert (held.status_code, held.json()["code"]) == (429, "too_many_attempts")
    assert (await client.post(f"{user.auth_base}/login", json=user.credentials)).status_code == 429


async def test_sensitive_changes_of_an_end_user_need_step_up(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, enrolled = await end_user_with_totp(client, world, clock)
    later(monkeypatch, timedelta(minutes=6))
    account = f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}"
    attempts = [
        ("PATCH", f"{account}/email", {"email": f"new-{tag()}@example.com", "currentPassword": PASSWORD}),
        ("DELETE", account, None),
        ("POST", f"{enrolled.base}/me/factors/totp", {}),
        ("DELETE", f"{enrolled.base}/me/factors/{enrolled.factor_id}", None),
        ("POST", f"{enrolled.base}/me/recovery-codes", None),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, json=body, headers=enrolled.auth)
        assert (response.status_code, response.json()["code"]) == (403, "step_up_required"), (method, url)
    # Other profile changes are not guarded.
    renamed = await client.patch(account, json={"name": "Renamed"}, headers=enrolled.auth)
    assert renamed.status_code == 204

    assert (await _step_up(client, enrolled, clock.code(enrolled.seed))).status_code == 200
    removed = await client.delete(f"{enrolled.base}/me/factors/{enrolled.factor_id}", headers=enrolled.auth)
    assert removed.status_code == 204
    # Without its last factor the account signs in with its password alone, and is asked for no step-up.
    assert (await client.post(f"{enrolled.base}/login", json=enrolled.login)).status_code == 200
    listed = await client.get(f"{enrolled.base}/me/factors", headers=enrolled.auth)
    assert listed.json() == {"factors": [], "recoveryCodesLeft": 0}
    deleted = await client.delete(account, headers=enrolled.auth)
    assert deleted.status_code == 204


async def test_key_rotation_and_account_deletion_by_an_admin_need_step_up(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, admin = await member_with_totp(client, world, clock, role="owner")
    victim = await world.add_member("user")
    later(monkeypatch, timedelta(minutes=6))
    rotate = f"{world.base}/environments/{world.environment_id}/keys/rotate"
    refused = await client.post(rotate, headers=admin.auth)
    assert (refused.status_code, refused.json()["code"]) == (403, "step_up_required")
    refused = await client.delete(f"{world.base}/accounts/{victim.account_id}", headers=admin.auth)
    assert (refused.status_code, refused.json()["code"]) == (403, "step_up_required")
    # The owner without a factor is not asked.
    assert (await client.post(rotate, headers=world.owner.auth)).status_code == 200

    assert (await _step_up(client, admin, clock.code(admin.seed))).status_code == 200
    assert (await client.post(rotate, headers=admin.auth)).status_code == 200
    assert (await client.delete(f"{world.base}/accounts/{victim.account_id}", headers=admin.auth)).status_code == 204


async def test_handing_out_a_tenants_power_or_erasing_an_environment_needs_step_up(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What would let a stolen session outrank itself: an owner or admin account made or invited, a role changed,
    an account disabled or enabled, an automation client (an admin of the tenant) made, widened or given a new
    secret; and erasing a whole environment, as erasing one account; and the tenant's sign-in settings. Each
    answers 403 `step_up_required` to an owner with a factor outside the five minutes, then passes once stepped
    up. What grants no power (a user made or invited, an automation client renamed or narrowed) is not asked."""
    _, owner = await member_with_totp(client, world, clock, role="owner")
    member, disabled = await world.add_member("user"), await world.add_member("user")
    off = await client.patch(f"{world.base}/accounts/{disabled.account_id}/disable", headers=world.owner.auth)
    assert off.status_code == 204
    robot = await automation(client, world, ["environments:read", "audit:read"])
    pending = await client.post(
        f"{world.base}/invitations",
        json={"email": f"adm-{tag()}@example.com", "role": "admin"},
        headers=world.owner.auth,
    )
    assert pending.status_code == 201, pending.text
    environment = await world.add_environment()

    def account(role: str) -> dict[str, object]:
        name = tag()
        grant = [{"role": role, "target": "tenant", "targetId": world.tenant_id}]
        return {
            "name": f"New {name}",
            "email": f"{name}@example.com",
            "username": f"u_{name}",
            "password": PASSWORD,
            "roles": grant,
        }

    asked = {
        "an admin made": ("POST", f"{world.base}/accounts", account("admin")),
        "an owner made": ("POST", f"{world.base}/accounts", account("owner")),
        "a role changed": ("PATCH", f"{world.base}/accounts/{member.account_id}/role", {"role": "owner"}),
        "an account disabled": ("PATCH", f"{world.base}/accounts/{member.account_id}/disable", None),
        "an account enabled": ("PATCH", f"{world.base}/accounts/{disabled.account_id}/enable", None),
        "an admin invited": ("POST", f"{world.base}/invitations", {"email": f"i-{tag()}@example.com", "role": "admin"}),
        "an admin's invitation resent": ("POST", f"{world.base}/invitations/{pending.json()['id']}/resend", None),
        "an automation client made": (
            "POST",
            f"{world.base}/clients",
            {"name": "Robot", "permissions": ["audit:read"]},
        ),
        "an automation client widened": (
            "PATCH",
            f"{world.base}/clients/{robot['id']}",
            {"permissions": ["environments:read", "end_users:read"]},
        ),
        "an automation client's new secret": (
            "POST",
            f"{world.base}/clients/{robot['id']}/secrets",
            {"overlapSeconds": 0},
        ),
        "an environment deleted": ("DELETE", f"{world.base}/environments/{environment}", None),
        "the sign-in settings": ("PATCH", world.base, {"settings": {"factorPolicy": "off"}}),
    }
    not_asked = {
        "a user made": ("POST", f"{world.base}/accounts", account("user")),
        "a user invited": ("POST", f"{world.base}/invitations", {"email": f"u-{tag()}@example.com", "role": "user"}),
        "the tenant renamed": ("PATCH", world.base, {"name": "Renamed"}),
        # what the console sends: the name changed, the permissions as they were
        "an automation client renamed": (
            "PATCH",
            f"{world.base}/clients/{robot['id']}",
            {"name": "Robot two", "permissions": ["audit:read", "environments:read"]},
        ),
        "an automation client narrowed": (
            "PATCH",
            f"{world.base}/clients/{robot['id']}",
            {"permissions": ["audit:read"]},
        ),
    }

    async def send(method: str, url: str, body: object) -> httpx.Response:
        return await client.request(method, url, json=body, headers=owner.auth)

    later(monkeypatch, timedelta(minutes=6))
    for name, (method, url, body) in asked.items():
        refused = await send(method, url, body)
        assert refused.status_code == 403, name
        assert refused.json()["code"] == "step_up_required", name
    for name, (method, url, body) in not_asked.items():
        assert (await send(method, url, body)).status_code in (200, 201, 204), name

    assert (await _step_up(client, owner, clock.code(owner.seed))).status_code == 200
    for name, (method, url, body) in asked.items():
        done = await send(method, url, body)
        assert done.status_code in (200, 201, 204), (name, done.text)


async def test_an_admin_changes_no_sign_in_setting_of_the_tenant(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    refused = await client.patch(world.base, json={"settings": {"factorPolicy": "off"}}, headers=admin.auth)
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_role"
    assert (await client.get(world.base, headers=admin.auth)).json()["settings"]["factorPolicy"] != "off"
    assert (await client.patch(world.base, json={"name": "Still theirs"}, headers=admin.auth)).status_code == 204
