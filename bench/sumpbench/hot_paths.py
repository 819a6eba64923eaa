"""The other hot paths of issue 12's goal 7, each measured as the old single-file bench did: the admin list of
100,000 seeded end users (first page, then its `Link` next pages), refresh-token rotation through the token
endpoint, and the SDK's JWT verification rate beside a bare PyJWT decode of the same token.

No peer has these: the original Sump has no list of end users, no refresh token and no JWT; fastapi-users'
example has server-side tokens only. Each is reported with its goal, and the JWT one with its bare baseline."""

from __future__ import annotations

import json
import time
from typing import Any

from sumpbench import accounts
from sumpbench.load import Measured, closed_loop, post_json, request
from sumpbench.systems import PG, System

ROUNDS = 6  # of the JWT verification comparison


async def seed_end_users(database: str, tenant_id: str, environment_id: str, count: int) -> float:
    """`count` end users in one environment, by one INSERT … SELECT (no password: the list never reads one)."""
    import asyncpg

    started = time.monotonic()
    conn = await asyncpg.connect(f"{PG}/{database}")
    try:
        await conn.execute(
            """INSERT INTO environment_account (id, tenant_id, environment_id, custom_properties, email,
                   email_verified, phone_verified, username, name, disabled, created_at, updated_at)
               SELECT gen_random_uuid(), $1::uuid, $2::uuid, '{}', 'seed' || g || '@bench.example.com', true, false,
                   'seed' || g, 'Seeded User ' || g, false, now(), now()
               FROM generate_series(1, $3::int) AS g""",
            tenant_id,
            environment_id,
            count,
        )
        await conn.execute("ANALYZE environment_account")
    finally:
        await conn.close()
    return time.monotonic() - started


def next_page(headers: dict[bytes, bytes]) -> str | None:
    """The path of the `Link` header's next page, if it names one."""
    text = headers.get(b"link", b"").decode()
    if 'rel="next"' not in text:
        return None
    target = text.split(";")[0].strip().strip("<>")
    return "/" + target.split("://", 1)[1].split("/", 1)[1] if "://" in target else target


async def admin_list(sump: System, owner: accounts.Tenant, concurrency: int, seconds: float) -> Measured:
    """Pages of 50 end users with the owner's bearer token, each connection following its `Link` next page
    and starting again at the first page after the last."""
    first = f"/api/v1/environments/{owner.environment_id}/accounts?limit=50"
    auth = {"Authorization": f"Bearer {owner.token}"}
    at: dict[int, str] = {}

    def make(i: int) -> bytes:
        return request("GET", at.get(i % concurrency, first), headers=auth)

    def answered(index: int, status: int, headers: dict[bytes, bytes], _body: bytes) -> None:
        following = next_page(headers) if status == 200 else None
        if following:
            at[index] = following
        else:
            at.pop(index, None)

    return await closed_loop(sump.port, make, concurrency, seconds, answered=answered)


async def refresh(sump: System, environment_id: str, concurrency: int, seconds: float) -> Measured:
    """Refresh-token rotation: each connection carries its own token family (one end user each) and sends the
    refresh token the last answer gave it (the JSON grant of Sump's first-party clients)."""
    chains: dict[int, str] = {}
    for index in range(concurrency):
        _, session = await accounts.end_user(sump, environment_id)
        chains[index] = str((await accounts.session_grant(sump, environment_id, session))["refreshToken"])
    path = f"/api/v1/auth/environments/{environment_id}/token"

    def make(i: int) -> bytes:
        return post_json(path, {"grantType": "refresh_token", "refreshToken": chains[i % concurrency]})

    def answered(index: int, status: int, _headers: dict[bytes, bytes], body: bytes) -> None:
        if status == 200:
            chains[index] = json.loads(body)["refreshToken"]

    return await closed_loop(sump.port, make, concurrency, seconds, warmup=0.5, answered=answered)


async def jwt_verification(sump: System, environment_id: str, access_token: str, seconds: float) -> dict[str, Any]:
    """Verifications per second on one core of this process: the SDK's `JwksVerifier` (JWKS fetched once, then
    ES256 signature, issuer, audience and times checked locally), and a bare `jwt.decode` with the same key
    and the same checks (the floor of any Python verifier)."""
    import jwt

    from sump.sdk.verifier import JwksVerifier

    verifier = JwksVerifier.for_environment(f"http://127.0.0.1:{sump.port}", environment_id)
    issuer = f"http://127.0.0.1:{sump.port}/api/v1/environments/{environment_id}"
    try:
        await verifier.verify(access_token)
        key = await verifier._key(jwt.get_unverified_header(access_token)["kid"])

        async def sdk() -> None:
            await verifier.verify(access_token)

        async def bare() -> None:
            jwt.decode(access_token, key, algorithms=["ES256"], audience=environment_id, issuer=issuer, leeway=30)

        # Interleaved rounds, so that a change of the machine's load falls on both alike.
        spent = {sdk: 0.0, bare: 0.0}
        done = {sdk: 0, bare: 0}
        for _ in range(ROUNDS):
            for verify in (sdk, bare):
                started = time.perf_counter()
                while time.perf_counter() - started < seconds / ROUNDS / 2:
                    for _ in range(100):
                        await verify()
                    done[verify] += 100
                spent[verify] += time.perf_counter() - started
        fetches = verifier.fetches
    finally:
        await verifier.client.aclose()
    sdk_rate, bare_rate = done[sdk] / spent[sdk], done[bare] / spent[bare]
    return {"sdk": sdk_rate, "bare": bare_rate, "fetches": fetches}
