"""The client_credentials grant of an environment's machine clients: an ES256 `at+jwt` access token signed with
the environment's key, for the client's registered audience, carrying its permissions (or the ones the scope
asks), no refresh token; other clients and scopes beyond the registration are refused; the issue is audited."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.clients import grants, policy
from sump.clients import service as clients
from sump.clients.schemas import AUTOMATION_PERMISSIONS
from sump.db.tables.audit import AuditEvent
from sump.db.tables.clients import Client as ClientRow
from sump.db.tables.sessions import Session
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.environments import service as environments
from sump.kit.call import Call, Client, Hooks
from sump.kit.errors import Problem
from tests.clients.support import application, clients_url, machine, register
from tests.support import TenantWorld, bearer


async def _issue(app: FastAPI, db: AsyncSession, environment_id: str, client_id: str, scope: str | None) -> Any:
    call = Call(db, app.state.runtime, Client(ip="203.0.113.7"), Hooks())
    environment = await environments.named(db, uuid.UUID(environment_id))
    client = await clients.for_environment(db, uuid.UUID(environment_id), client_id)
    assert client is not None
    issued = await grants.client_credentials(call, environment, client, scope)
    await db.commit()
    return issued


async def _claims(http: httpx.AsyncClient, environment_id: str, token: str, audience: str) -> dict[str, Any]:
    jwks = (await http.get(f"/api/v1/environments/{environment_id}/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    key = next(key for key in jwks["keys"] if key["kid"] == header["kid"])
    claims: dict[str, Any] = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["ES256"], audience=audience)
    return claims


async def test_machine_token(client: httpx.AsyncClient, app: FastAPI, world: TenantWorld, db: AsyncSession) -> None:
    created = await register(client, world, machine(permissions=["projects:read", "projects:write"]))
    issued = await _issue(app, db, world.environment_id, created["clientId"], None)
    assert issued.expires_in == app.state.settings.access_token_ttl
    assert issued.scope == "projects:read projects:write"
    claims = await _claims(client, world.environment_id, issued.access_token, "https://api.example.com")
    assert claims["iss"] == f"http://sump.test/api/v1/environments/{world.environment_id}"
    assert claims["sub"] == created["clientId"]
    assert claims["client_id"] == created["clientId"]
    assert claims["permissions"] == ["projects:read", "projects:write"]
    assert claims["exp"] - claims["iat"] == issued.expires_in
    assert {"jti", "iat", "exp"} <= claims.keys()
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "token.issued", AuditEvent.target_id == uuid.UUID(created["id"]))
    )
    assert event is not None
    assert event.actor_type == "client"
    assert event.details["clientId"] == created["clientId"]
    assert issued.access_token not in str(event.details)


async def test_scope_narrows_and_never_widens(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld, db: AsyncSession
) -> None:
    created = await register(client, world, machine(permissions=["projects:read", "projects:write"]))
    narrow = await _issue(app, db, world.environment_id, created["clientId"], "projects:read")
    claims = await _claims(client, world.environment_id, narrow.access_token, "https://api.example.com")
    assert claims["permissions"] == ["projects:read"]
    with pytest.raises(Problem) as refused:
        await _issue(app, db, world.environment_id, created["clientId"], "projects:read projects:delete")
    assert refused.value.code == "invalid_scope"
    await db.rollback()


async def test_only_machine_clients(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld, db: AsyncSession
) -> None:
    created = await register(client, world, application())
    with pytest.raises(Problem) as refused:
        await _issue(app, db, world.environment_id, created["clientId"], None)
    assert refused.value.code == "unauthorized_client"
    await db.rollback()


async def test_another_environments_client_is_refused(
    client: httpx.AsyncClient, app: FastAPI, world: TenantWorld, db: AsyncSession
) -> None:
    created = await register(client, world, machine())
    second = await world.add_environment()
    call = Call(db, app.state.runtime, Client(ip="203.0.113.7"), Hooks())
    environment = await environments.named(db, uuid.UUID(second))
    machine_client = await clients.for_environment(db, uuid.UUID(world.environment_id), created["clientId"])
    assert machine_client is not None
    with pytest.raises(Problem) as refused:
        await grants.client_credentials(call, environment, machine_client, None)
    assert refused.value.code == "unauthorized_client"
    await db.rollback()


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def test_through_the_token_endpoint(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = await register(client, world, machine(permissions=["projects:read", "projects:write"]))
    url = f"/api/v1/auth/environments/{world.environment_id}/token"
    by_basic = await client.post(
        url,
        data={"grant_type": "client_credentials", "scope": "projects:read"},
        headers=_basic(created["clientId"], created["clientSecret"]),
    )
    assert by_basic.status_code == 200, by_basic.text
    body = by_basic.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "projects:read"
    assert "refresh_token" not in body
    claims = await _claims(client, world.environment_id, body["access_token"], "https://api.example.com")
    assert claims["client_id"] == created["clientId"]
    assert claims["permissions"] == ["projects:read"]
    form = {"grant_type": "client_credentials", "client_id": created["clientId"]}
    by_post = await client.post(url, data={**form, "client_secret": created["clientSecret"]})
    assert by_post.status_code == 200, by_post.text
    wrong = await client.post(url, data={**form, "client_secret": created["clientSecret"][:-1] + "x"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    elsewhere = await client.post(
        f"/api/v1/auth/environments/{await world.add_environment()}/token",
        data={**form, "client_secret": created["clientSecret"]},
    )
    assert elsewhere.status_code == 401
    assert elsewhere.json()["error"] == "invalid_client"


async def test_a_machine_client_introspects_its_own_tokens_and_no_other(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """RFC 7662 for a machine client: its live client_credentials token is active, with its claims; another
    machine client's token, a token for another environment and a tampered one are not."""
    one = await register(client, world, machine(permissions=["projects:read"]))
    two = await register(client, world, machine(audience="https://other.example.com"))
    token_url = f"/api/v1/auth/environments/{world.environment_id}/token"
    grant = {"grant_type": "client_credentials"}

    async def token_of(created: dict[str, Any]) -> str:
        issued = await client.post(token_url, data=grant, headers=_basic(created["clientId"], created["clientSecret"]))
        assert issued.status_code == 200, issued.text
        return str(issued.json()["access_token"])

    async def introspected(created: dict[str, Any], token: str) -> dict[str, Any]:
        answer = await client.post(
            f"{token_url}/introspect",
            data={"token": token},
            headers=_basic(created["clientId"], created["clientSecret"]),
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        body: dict[str, Any] = answer.json()
        return body

    own, others = await token_of(one), await token_of(two)
    active = await introspected(one, own)
    assert active["active"] is True
    assert (active["client_id"], active["sub"], active["aud"]) == (one["clientId"], one["clientId"], one["audience"])
    assert active["scope"] == "projects:read"
    assert active["iss"].endswith(f"/environments/{world.environment_id}")
    assert await introspected(one, others) == {"active": False}
    assert await introspected(two, own) == {"active": False}
    header, payload, signature = own.split(".")
    tampered = ".".join((header, payload, ("A" if signature[0] != "A" else "B") + signature[1:]))
    assert await introspected(one, tampered) == {"active": False}


async def test_oauth_errors_answer_a_form_in_json_and_a_json_body_in_problem_details(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """RFC 6749 §5.2 sends errors as application/json, which strict clients (openid-client) require to read
    them; Sump's own JSON grants keep problem+json. Both carry `error` and the problem's members."""
    url = f"/api/v1/auth/environments/{world.environment_id}/token"
    app = await register(client, world, application())
    form = await client.post(
        url,
        data={"grant_type": "refresh_token", "refresh_token": "nonsense"},
        headers=_basic(app["clientId"], app["clientSecret"]),
    )
    assert form.status_code == 400
    assert form.headers["content-type"] == "application/json"
    assert form.headers["cache-control"] == "no-store"
    body = form.json()
    assert (body["error"], body["code"], body["status"]) == ("invalid_grant", "invalid_grant", 400)
    assert body["error_description"] == body["detail"]
    unknown = await client.post(
        url, data={"grant_type": "client_credentials", "client_id": "sump_nobody", "client_secret": "x"}
    )
    assert unknown.status_code == 401
    assert unknown.headers["content-type"] == "application/json"
    assert unknown.json()["error"] == "invalid_client"
    own = await client.post(url, json={"grantType": "refresh_token", "refreshToken": "nonsense"})
    assert (own.status_code, own.json()["code"]) == (401, "invalid_grant")
    assert own.headers["content-type"] == "application/problem+json"


async def test_an_application_gets_no_machine_token(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = await register(client, world, application())
    refused = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(created["clientId"], created["clientSecret"]),
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "unauthorized_client"


def test_a_client_never_gets_more_than_its_grantor_holds() -> None:
    """The rule behind automation clients' permissions: each one is held by the role of who grants it."""
    account = TenantAccount(id=uuid.uuid4(), tenant_id=uuid.uuid4(), role=TenantRole.USER)
    user = TenantActor(Session(id=uuid.uuid4()), account)
    refusal = policy.grant(user, ["environments:read", "environments:write"], AUTOMATION_PERMISSIONS)
    assert refusal is not None
    assert refusal.code == "permission_above_role"
    assert policy.grant(user, ["environments:read", "end_users:read"], AUTOMATION_PERMISSIONS) is None
    admin = TenantActor(Session(id=uuid.uuid4()), TenantAccount(id=uuid.uuid4(), role=TenantRole.ADMIN))
    assert policy.grant(admin, sorted(AUTOMATION_PERMISSIONS), AUTOMATION_PERMISSIONS) is None


@pytest.mark.asvs("JWT-04")
@pytest.mark.parametrize("audience", ["{env}", "{env_upper}", "{issuer}", "{issuer}/userinfo", "{elsewhere}/"])
async def test_a_machine_client_may_not_take_the_audience_of_the_environments_own_tokens(
    client: httpx.AsyncClient, world: TenantWorld, audience: str
) -> None:
    """An end user's access token is addressed to the environment's id (first-party) or its userinfo endpoint: a
    machine client's token with that audience would pass a builder's own verifier for an end user's (same
    issuer, type and keys), its client id taken for an account id. Its issuer too, under any public URL."""
    issuer = f"http://sump.test/api/v1/environments/{world.environment_id}"
    chosen = audience.format(
        env=world.environment_id,
        env_upper=world.environment_id.upper(),
        issuer=issuer,
        elsewhere=f"https://id.example.com/api/v1/environments/{world.environment_id}/userinfo",
    )
    refused = await client.post(clients_url(world), json=machine(audience=chosen), headers=world.owner.auth)
    assert (refused.status_code, refused.json()["code"]) == (400, "reserved_audience"), refused.text
    assert set(refused.json()["errors"]) == {"audience"}
    created = await register(client, world, machine())
    url = f"{clients_url(world)}/{created['id']}"
    changed = await client.patch(url, json={"audience": chosen}, headers=world.owner.auth)
    assert (changed.status_code, changed.json()["code"]) == (400, "reserved_audience")
    another = await world.add_environment()  # its tokens have another issuer: its id is any audience here
    assert (await client.patch(url, json={"audience": another}, headers=world.owner.auth)).status_code == 204


async def test_a_machine_token_is_no_end_users_even_for_the_environments_audience(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """Should a machine client hold the audience of an end user's access token (registered before Sump refused
    it), its token carries the issuer, audience, type and key of an end user's. It names no session (`sid`),
    which every end user's token must, so `…/me` and userinfo refuse it as invalid, like any other token that is
    not an end user's."""
    issuer = f"http://sump.test/api/v1/environments/{world.environment_id}"
    for audience in (world.environment_id, f"{issuer}/userinfo"):
        created = await register(client, world, machine())
        await db.execute(update(ClientRow).where(ClientRow.client_id == created["clientId"]).values(audience=audience))
        await db.commit()
        issued = await client.post(
            f"/api/v1/auth/environments/{world.environment_id}/token",
            data={"grant_type": "client_credentials"},
            headers=_basic(created["clientId"], created["clientSecret"]),
        )
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        assert (await _claims(client, world.environment_id, token, audience))["iss"] == issuer
        for route in (f"/api/v1/auth/environments/{world.environment_id}/me", f"{issuer}/userinfo"):
            refused = await client.get(route.removeprefix("http://sump.test"), headers=bearer(token))
            assert (refused.status_code, refused.json()["code"]) == (401, "invalid_token"), (audience, route)
