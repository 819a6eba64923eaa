"""`sump secret rotate` with the old secret listed in SUMP_PREVIOUS_SECRET_KEYS: what was made under the old
secret keeps working (a console cookie session and its CSRF form, TOTP, recovery codes, tokens), signing keys
and TOTP seeds open under the new secret alone afterwards, nothing new is ever signed or sealed with a previous
secret, and the command says what still needs the old one."""

from __future__ import annotations

import dataclasses
import re
import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.factors import Factor, RecoveryCode
from sump.db.tables.tokens import SigningKey
from sump.factors import codes
from sump.kit import crypto, sealing
from sump.tokens import keys
from tests.factors.conftest import Clock, Enrolled, challenge_of, end_user_with_totp
from tests.factors.test_passkeys import PASSKEYS
from tests.secret_rotation.conftest import NEW, WRONG, http, served, sump
from tests.support import PASSWORD, SECRET, Database, TenantWorld, bearer, new_tenant
from tests.tokens.test_tokens import password_grant

OLD = SECRET
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


async def csrf_of(browser: httpx.AsyncClient, path: str) -> str:
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


async def console_login(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    form = {
        "csrf": await csrf_of(browser, "/console/login"),
        "tenantId": world.tenant_id,
        "identifier": world.owner.email,
        "password": PASSWORD,
    }
    signed_in = await browser.post("/console/login", data=form)
    assert signed_in.status_code == 303, signed_in.text


async def session_of(client: httpx.AsyncClient, world: TenantWorld) -> httpx.Response:
    """The pure-ASGI session check, with the cookies the client holds."""
    return await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session")


async def second_step(client: httpx.AsyncClient, enrolled: Enrolled, code: str) -> httpx.Response:
    return await client.post(
        f"{enrolled.base}/login/factor", json={"challenge": await challenge_of(client, enrolled), "code": code}
    )


async def counts(db: AsyncSession) -> tuple[int, int]:
    """Signing keys and TOTP seeds in the database."""
    signing_keys = await db.scalar(select(func.count()).select_from(SigningKey))
    seeds = await db.scalar(select(func.count()).select_from(Factor).where(Factor.secret.is_not(None)))
    return int(signing_keys or 0), int(seeds or 0)


async def test_what_the_old_secret_made_keeps_working_across_a_rotation(own_database: Database, clock: Clock) -> None:
    async with served(own_database, OLD) as before:
        async with http(before) as api, http(before) as browser:
            world = await new_tenant(api)
            await console_login(browser, world)
            form_token = await csrf_of(browser, "/console/")  # a page served before the rotation
            _, enrolled = await end_user_with_totp(api, world, clock)
            user = await world.add_end_user(world.environment_id)  # without a second factor
            tokens = await password_grant(api, world, user)  # the environment's signing keys, sealed with OLD
        async with before.state.sessionmaker() as db:
            signing_keys, seeds = await counts(db)
            sealed_before = dict((await db.execute(select(SigningKey.kid, SigningKey.private_key))).all())
    assert signing_keys >= 2
    assert seeds == 1
    old_cookie = browser.cookies["sump_session"]
    assert crypto.unsign_cookie(OLD, old_cookie) is not None

    rotated = await sump(own_database, "secret", "rotate", SUMP_SECRET_KEY=NEW, SUMP_PREVIOUS_SECRET_KEYS=OLD)
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.splitlines() == [
        f"re-sealed under SUMP_SECRET_KEY: {signing_keys} signing keys, {seeds} TOTP seeds (0 already were)",
        "still made by a previous secret: 10 unused recovery codes of 1 accounts (they stop working when the "
        "previous secret is dropped; run this again to count them)",
        "cookies and form tokens signed by a previous secret are accepted while it is listed: sessions end within "
        "SUMP_SESSION_ABSOLUTE_TTL (30 days) of this rotation",
    ]

    async with served(own_database, NEW) as alone:
        async with alone.state.sessionmaker() as db:
            for kid, sealed in (await db.execute(select(SigningKey.kid, SigningKey.private_key))).all():
                assert sealed != sealed_before[kid]
                assert keys.opens(NEW, kid, sealed), "re-sealed: the new secret alone opens it"
                assert not keys.opens(OLD, kid, sealed)
        async with http(alone, browser.cookies) as client:
            refused = await session_of(client, world)
            assert (refused.status_code, refused.json()["code"]) == (401, "unauthenticated"), "OLD is not listed"
            # Signed before, verified after: the public keys did not change.
            me = await client.get(f"{user.auth_base}/me", headers=bearer(tokens["accessToken"]))
            assert me.status_code == 200, me.text
            # The re-sealed key signs, and the re-sealed seed checks codes, with the new secret alone.
            assert (await password_grant(client, world, user))["accessToken"]
            totp = await second_step(client, enrolled, clock.code(enrolled.seed))
            assert totp.status_code == 200, totp.text
            clock.tick()
            # A recovery code's digest cannot be re-keyed: without OLD, the codes it made are refused.
            code = await second_step(client, enrolled, enrolled.recovery_codes[0])
            assert (code.status_code, code.json()["code"]) == (401, "invalid_code")

    async with served(own_database, NEW, OLD) as after:
        async with http(after, browser.cookies) as console, http(after) as api:
            kept = await session_of(console, world)
            assert kept.status_code == 200, kept.text
            assert (await console.get("/console/")).status_code == 200
            totp = await second_step(api, enrolled, clock.code(enrolled.seed))
            assert totp.status_code == 200, totp.text
            code = await second_step(api, enrolled, enrolled.recovery_codes[0])
            assert code.status_code == 200, code.text
            assert code.json()["session"]["amr"] == ["pwd", "rc", "mfa"]
            signed_out = await console.post("/console/logout", data={"csrf": form_token})  # the old page's form
            assert signed_out.status_code == 303, signed_out.text
        async with http(after) as bare:
            ended = await bare.get(
                f"/api/v1/auth/tenants/{world.tenant_id}/session", headers={"cookie": f"sump_session={old_cookie}"}
            )
            assert (ended.status_code, ended.json()["code"]) == (401, "unauthenticated"), "the old form signed out"


async def test_a_previous_secret_never_signs_or_seals_anything_new(own_database: Database, clock: Clock) -> None:
    async with served(own_database, OLD) as before, http(before) as api:
        world = await new_tenant(api)
        _, enrolled = await end_user_with_totp(api, world, clock)
        await password_grant(api, world, await world.add_end_user(world.environment_id))
    first = await sump(own_database, "secret", "rotate", SUMP_SECRET_KEY=NEW, SUMP_PREVIOUS_SECRET_KEYS=OLD)
    assert first.returncode == 0, first.stderr

    async with served(own_database, NEW, OLD) as after, http(after) as api, http(after) as browser:
        world = dataclasses.replace(world, http=api)
        await console_login(browser, world)
        cookie = browser.cookies["sump_session"]
        assert crypto.unsign_cookie(NEW, cookie) is not None, "a new cookie verifies under the new secret alone"
        assert crypto.unsign_cookie(OLD, cookie) is None
        form = await browser.post("/console/logout", data={"csrf": await csrf_of(browser, "/console/")})
        assert form.status_code == 303, form.text
        # New signing keys (a new environment's), a new TOTP seed and new recovery codes.
        other = await world.add_end_user()
        await password_grant(api, dataclasses.replace(world, environment_id=other.environment_id), other)
        _, second = await end_user_with_totp(api, world, clock)
        fresh = await api.post(f"{enrolled.base}/me/recovery-codes", headers=enrolled.auth)
        assert fresh.status_code == 200, fresh.text
        async with after.state.sessionmaker() as db:
            for kid, sealed in (await db.execute(select(SigningKey.kid, SigningKey.private_key))).all():
                assert keys.opens(NEW, kid, sealed)
                assert not keys.opens(OLD, kid, sealed)
            seed = await db.scalar(select(Factor.secret).where(Factor.id == uuid.UUID(second.factor_id)))
            assert seed is not None
            assert sealing.unseal(NEW, sealing.FACTOR_SECRETS, seed, second.factor_id.encode()).decode() == second.seed
            digests = (await db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.used_at.is_(None)))).all()
            assert digests
            assert all(digest[: codes.TAG_BYTES] == codes.tag(NEW) for digest in digests)

    # Every account made new codes under the new secret: the command says nothing depends on the old one now,
    # and running it again changes nothing.
    again = await sump(own_database, "secret", "rotate", SUMP_SECRET_KEY=NEW, SUMP_PREVIOUS_SECRET_KEYS=OLD)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert re.fullmatch(r"re-sealed under SUMP_SECRET_KEY: 0 signing keys, 0 TOTP seeds \(\d+ already were\)", lines[0])
    assert lines[1].startswith("still made by a previous secret: 0 unused recovery codes of 0 accounts ")


async def test_a_previous_secret_that_opens_nothing_changes_nothing(own_database: Database, clock: Clock) -> None:
    async with served(own_database, OLD) as before, http(before) as api:
        world = await new_tenant(api)
        await end_user_with_totp(api, world, clock)
        await password_grant(api, world, await world.add_end_user(world.environment_id))
        async with before.state.sessionmaker() as db:
            kids = dict((await db.execute(select(SigningKey.kid, SigningKey.private_key))).all())
            factor_id, seed = (await db.execute(select(Factor.id, Factor.secret))).one()

    refused = await sump(own_database, "secret", "rotate", SUMP_SECRET_KEY=NEW, SUMP_PREVIOUS_SECRET_KEYS=WRONG)

    assert refused.returncode == 1
    assert refused.stdout == ""
    assert sorted(refused.stderr.splitlines()[-len(kids) - 2 :]) == sorted(
        [
            f"sump: nothing was changed: {len(kids) + 1} sealed values open under neither SUMP_SECRET_KEY nor "
            "SUMP_PREVIOUS_SECRET_KEYS; list the secret that sealed them as previous",
            *(f"  signing key {kid}" for kid in kids),
            f"  factor {factor_id}",
        ]
    )
    assert NEW not in refused.stderr
    assert WRONG not in refused.stderr
    async with served(own_database, OLD) as still, still.state.sessionmaker() as db:
        assert dict((await db.execute(select(SigningKey.kid, SigningKey.private_key))).all()) == kids
        assert await db.scalar(select(Factor.secret).where(Factor.id == factor_id)) == seed


async def decoys(client: httpx.AsyncClient, bases: list[str], username: str) -> list[list[str]]:
    """The credential ids each pool's passkey sign-in options offer for `username`."""
    found = []
    for base in bases:
        options = await client.post(f"{base}/login/passkey/options", json={"username": username})
        assert options.status_code == 200, options.text
        found.append([credential["id"] for credential in options.json()["publicKey"]["allowCredentials"]])
    return found


async def test_passkey_decoys_stay_the_same_across_a_rotation_and_differ_between_pools(
    own_database: Database,
) -> None:
    """A decoy that changed at a rotation while real passkeys stayed would tell which accounts have none."""
    async with served(own_database, OLD) as before, http(before) as api:
        world = await new_tenant(api)
        environments = [await world.add_environment(settings=PASSKEYS) for _ in range(2)]
        bases = [f"/api/v1/auth/tenants/{world.tenant_id}"]
        bases += [f"/api/v1/auth/environments/{environment_id}" for environment_id in environments]
        offered = await decoys(api, bases, "nobody_here")
    ids = [credential_id for pool in offered for credential_id in pool]
    assert len(set(ids)) == len(ids) >= 3, "each tenant and environment keys its own decoys"

    async with served(own_database, NEW) as after, http(after) as api:
        assert await decoys(api, bases, "nobody_here") == offered
        others = await decoys(api, bases, "nobody_else")
        assert {credential_id for pool in others for credential_id in pool}.isdisjoint(ids)


async def test_a_rotation_that_cannot_open_every_value_reseals_none_of_the_others(
    own_database: Database, clock: Clock
) -> None:
    """All or nothing: when some values open under a listed secret and others under none (an environment made
    by a server of a third secret), the values the listed secret opens are not re-sealed either."""
    third = "a-third-secret-no-one-lists-here-" + "t" * 31
    async with served(own_database, OLD) as before, http(before) as api:
        first = await new_tenant(api)
        await end_user_with_totp(api, first, clock)
        await password_grant(api, first, await first.add_end_user(first.environment_id))
    async with served(own_database, third) as elsewhere, http(elsewhere) as api:
        world = await new_tenant(api)
        await password_grant(api, world, await world.add_end_user(world.environment_id))
        async with elsewhere.state.sessionmaker() as db:
            kids = dict((await db.execute(select(SigningKey.kid, SigningKey.private_key))).all())
            seeds = dict((await db.execute(select(Factor.id, Factor.secret))).all())
    unreadable = [kid for kid, sealed in kids.items() if keys.opens(third, kid, sealed)]
    assert unreadable, "the third secret sealed some keys"
    assert len(unreadable) < len(kids), "the old secret sealed others"

    refused = await sump(own_database, "secret", "rotate", SUMP_SECRET_KEY=NEW, SUMP_PREVIOUS_SECRET_KEYS=OLD)

    assert refused.returncode == 1
    assert refused.stdout == ""
    assert f"sump: nothing was changed: {len(unreadable)} sealed values open under neither" in refused.stderr
    async with served(own_database, OLD) as still, still.state.sessionmaker() as db:
        assert dict((await db.execute(select(SigningKey.kid, SigningKey.private_key))).all()) == kids
        assert dict((await db.execute(select(Factor.id, Factor.secret))).all()) == seeds
