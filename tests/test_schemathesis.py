"""Schemathesis over the whole OpenAPI document, against the ASGI app, on SQLite and on PostgreSQL.

Every operation of the document becomes one test per backend. Its cases (examples, coverage and fuzzing
phases, valid and invalid data) are sent with the bearer token of a real tenant's owner (an end user's token
on `/auth/environments/…`), and every UUID the generator puts in a path is replaced by the id of a real object
of that tenant, so that the calls reach past authentication into the services. Invalid ids are sent as they
were generated. Checks: no 5xx; status code, content type and body as documented (validation errors are
400 `application/problem+json`, which the document says); data the document calls valid accepted and data it
calls invalid refused, but for the answers `tests/fuzz/checks.py` lists.

The app under test is built per test: schemathesis serves ASGI apps from an event loop of its own and ends
their lifespan when each test ends, which disposes the engine and stops the password hasher.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi

from sump.app import create_app
from sump.config import Settings
from tests.fuzz.checks import CONFORMANCE, DATA
from tests.support import PASSWORD, SECRET, Database, TenantWorld, bearer, make_settings, tenant_body

# Conformance, and data acceptance and rejection: what the document calls valid is accepted and what it calls
# invalid is refused, but for the refusals `tests/fuzz/checks.py` lists (rules a schema cannot state).
CHECKS = [*CONFORMANCE, *DATA]
# Cases per operation: 20 in `make test`, more in `make fuzz` (SUMP_FUZZ_EXAMPLES=60).
EXAMPLES = int(os.environ.get("SUMP_FUZZ_EXAMPLES", "20"))
# The app and the world are shared by the cases of one test on purpose; some cases are slow (password hashing).
SLOW_AND_SHARED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Liveness and readiness probes for orchestrators: documented, deliberately outside the versioned API.
PROBES = {"/health/live", "/health/ready"}
# What a successful call of these operations uses up, to be made again before the next case.
SPENDS = {
    "DELETE /api/v1/tenants/{tenantId}": "tenant",
    "DELETE /api/v1/tenants/{tenantId}/environments/{environmentId}": "tenant",
    "DELETE /api/v1/tenants/{tenantId}/accounts/{accountId}": "member",
    "DELETE /api/v1/environments/{environmentId}/accounts/{accountId}": "end user",
    "POST /api/v1/auth/tenants/{tenantId}/login": "owner session",
    "POST /api/v1/auth/tenants/{tenantId}/logout": "owner session",
    "POST /api/v1/auth/tenants/{tenantId}/logout-all": "owner session",
    "DELETE /api/v1/auth/tenants/{tenantId}/sessions/{sessionId}": "owner session",
    "POST /api/v1/auth/environments/{environmentId}/login": "end-user session",
    "POST /api/v1/auth/environments/{environmentId}/logout": "end-user session",
    "POST /api/v1/auth/environments/{environmentId}/logout-all": "end-user session",
    "DELETE /api/v1/auth/environments/{environmentId}/sessions/{sessionId}": "end-user session",
}


Case = schemathesis.Case[Any]


def _document() -> dict[str, Any]:
    """The OpenAPI document, from an app that never touches its database.

    The schema is loaded at import time because `schemathesis.pytest.from_fixture` does not work with pytest 9.2
    (it sets `Function._nodeid`, which pytest no longer has); the backends come in through the test's fixtures.
    """
    app = create_app(Settings(env="test", database_url="sqlite+aiosqlite:///:memory:", secret_key=SECRET))
    app.state.hasher.close()
    # In one order whatever modules the process imported first (their order moves the document's members), so that
    # the derandomized cases and scenarios are the same in a whole run's worker as in a file run alone.
    document: dict[str, Any] = json.loads(json.dumps(app.openapi(), sort_keys=True))
    return document


schema = schemathesis.openapi.from_dict(_document())


@dataclass
class Signed:
    """An account signed in: its id, username, bearer token and session id."""

    account_id: str
    username: str
    token: str
    session_id: str


@dataclass
class World:
    """A real tenant: its owner, an environment, a plain `user` account and an end user signed in."""

    http: asgi.ASGIClient
    tenant_id: str
    environment_id: str
    owner: Signed
    member_id: str
    end_user: Signed

    @classmethod
    def create(cls, http: asgi.ASGIClient) -> World:
        body = tenant_body()
        created = _json(http.post("/api/v1/tenants", json=body), 201)
        owner = Signed(created["accountId"], body["account"]["username"], created["token"], created["session"]["id"])
        tenant, environment = created["tenantId"], created["environmentId"]
        return cls(http, tenant, environment, owner, cls._member(http, tenant, owner), cls._end_user(http, environment))

    @staticmethod
    def _member(http: asgi.ASGIClient, tenant_id: str, owner: Signed) -> str:
        member = http.post(f"/api/v1/tenants/{tenant_id}/accounts", json=_person(), headers=bearer(owner.token))
        account_id: str = _json(member, 201)["id"]
        return account_id

    @staticmethod
    def _end_user(http: asgi.ASGIClient, environment_id: str) -> Signed:
        body = {**_person(), "password": PASSWORD}
        signed = _json(http.post(f"/api/v1/auth/environments/{environment_id}/signup", json=body), 201)
        return Signed(signed["accountId"], body["username"], signed["token"], signed["session"]["id"])

    def _sign_in_again(self, who: Signed, auth_url: str) -> Signed:
        body = {"username": who.username, "password": PASSWORD}
        signed = _json(self.http.post(f"{auth_url}/login", json=body), 200)
        return Signed(who.account_id, who.username, signed["token"], signed["session"]["id"])

    def renew(self, spent: str) -> World:
        """This world with what `spent` names made again (or a new world)."""
        if spent == "member":
            self.member_id = self._member(self.http, self.tenant_id, self.owner)
        elif spent == "end user":
            self.end_user = self._end_user(self.http, self.environment_id)
        elif spent == "owner session":
            self.owner = self._sign_in_again(self.owner, f"/api/v1/auth/tenants/{self.tenant_id}")
        elif spent == "end-user session":
            self.end_user = self._sign_in_again(self.end_user, f"/api/v1/auth/environments/{self.environment_id}")
        else:
            return self.create(self.http)
        return self

    def aim(self, case: Case) -> dict[str, str]:
        """Puts this world's ids in the case's path (where a valid UUID was generated); returns the headers."""
        end_user_side = case.path.startswith("/api/v1/auth/environments/")
        signed = self.end_user if end_user_side else self.owner
        ids = {
            "tenantId": self.tenant_id,
            "environmentId": self.environment_id,
            "accountId": self.end_user.account_id if case.path.startswith("/api/v1/environments/") else self.member_id,
            "sessionId": signed.session_id,
        }
        parameters = case.path_parameters or {}
        for name, value in parameters.items():
            if name in ids and _is_uuid(value):
                parameters[name] = ids[name]
        return bearer(signed.token)


class Worlds:
    """The world of one test, renewed after a case has used part of it up."""

    def __init__(self, http: asgi.ASGIClient) -> None:
        self.http = http
        self.current: World | None = None

    def get(self) -> World:
        if self.current is None:
            self.current = World.create(self.http)
        return self.current

    def after(self, case: Case, status: int) -> None:
        spent = SPENDS.get(case.operation.label)
        if spent and self.current is not None and 200 <= status < 300:
            self.current = self.current.renew(spent)


def _json(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"name": f"Person {tag}", "email": f"person-{tag}@example.com", "username": f"p_{tag}"}


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@pytest.fixture
def fuzzed_app(database: Database) -> FastAPI:
    return create_app(make_settings(database))


@pytest.fixture
def worlds(fuzzed_app: FastAPI) -> Worlds:
    return Worlds(asgi.get_client(cast(Any, fuzzed_app)))


@pytest.mark.asvs("VAL-01", "VAL-04", "VAL-07")
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=SLOW_AND_SHARED)
def test_openapi_conformance(case: Case, worlds: Worlds, fuzzed_app: FastAPI) -> None:
    world = worlds.get()
    headers = world.aim(case)
    response = case.call_and_validate(headers=headers, checks=CHECKS, app=fuzzed_app)
    worlds.after(case, response.status_code)


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route of the app under `/api/v1`."""
    routes: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if isinstance(context.original_route, APIRoute) and path.startswith("/api/v1/"):
            routes.update((method, path) for method in context.methods or ())
    return routes


async def served_document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.asvs("VAL-10")
async def test_openapi_documents_exactly_the_api_routes(app: FastAPI, client: httpx.AsyncClient) -> None:
    paths: dict[str, dict[str, Any]] = (await served_document(client))["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item if method in HTTP_METHODS}

    assert {(method, path) for method, path in documented if path.startswith("/api/v1/")} == api_routes(app)
    assert {path for _, path in documented if not path.startswith("/api/v1/")} == PROBES


@pytest.mark.asvs("SESS-10")
async def test_no_route_takes_a_token_in_its_url(client: httpx.AsyncClient) -> None:
    secret_names = {"token", "sid", "accesstoken", "refreshtoken", "sessiontoken", "session", "sumpsession"}
    paths: dict[str, dict[str, Any]] = (await served_document(client))["paths"]
    parameters = [
        (method.upper(), path, parameter)
        for path, item in paths.items()
        for method, operation in item.items()
        if method in HTTP_METHODS
        for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]
    ]
    assert parameters, "the document lists no parameters at all"
    in_url = [
        (method, path, parameter["name"])
        for method, path, parameter in parameters
        if parameter["in"] in {"query", "path"}
        and parameter["name"].replace("_", "").replace("-", "").lower() in secret_names
    ]
    assert in_url == []


# What the fuzzer found, reproduced so that it fails every time and not only when the generator draws it.
NUL = "\u0000"
NUL_INPUTS = [
    pytest.param("PATCH", "{tenant}/custom-property", {f"plan{NUL}": "basic"}, id="tenant property key"),
    pytest.param("PATCH", "{tenant}/custom-property", {"plan": f"ba{NUL}sic"}, id="tenant property value"),
    pytest.param("PATCH", "{tenant}", {"name": f"Ac{NUL}me"}, id="tenant name"),
    pytest.param("POST", "{tenant}/environments", {"name": f"prod{NUL}"}, id="environment name"),
    pytest.param(
        "PATCH",
        "{tenant}/environments/{environment}/custom-property",
        {"region": f"e{NUL}u"},
        id="environment property",
    ),
    pytest.param(
        "POST",
        "{tenant}/accounts",
        {"name": f"Al{NUL}ice", "email": "alice@example.com", "username": "alice"},
        id="account name",
    ),
    pytest.param(
        "POST",
        "/api/v1/environments/{environment}/accounts",
        {"name": "Bob Builder", "email": "bob@example.com", "username": "bob", "customProperties": {"x": NUL}},
        id="end user property",
    ),
    pytest.param("GET", "/api/v1/environments/{environment}/accounts?q=a%00b", None, id="end user search"),
]


@pytest.mark.asvs("VAL-01")
@pytest.mark.parametrize(("method", "url", "body"), NUL_INPUTS)
async def test_a_nul_character_is_a_client_error(
    client: httpx.AsyncClient, world: TenantWorld, method: str, url: str, body: dict[str, Any] | None
) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb: the input must be refused (4xx), never a 500."""
    target = url.format(tenant=world.base, environment=world.environment_id)
    response = await client.request(method, target, json=body, headers=world.owner.auth)
    assert response.status_code < 500, response.text


@pytest.mark.asvs("VAL-01")
async def test_password_grant_without_an_identifier_is_a_validation_error(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    url = f"/api/v1/auth/environments/{world.environment_id}/token"
    response = await client.post(url, json={"grantType": "password", "password": PASSWORD})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
