"""Schemathesis' stateful phase over the whole API, on SQLite and on PostgreSQL.

Scenarios chain operations along the links schemathesis infers from the document (an id a create answers is the
id a read, update or delete takes): create a tenant, then its environments, accounts, end users, organizations,
roles … and read, change and delete what was made. Each call carries the credential that owns its path: the
owner of the tenant it names (a tenant made during the scenario brings its own owner's token), an end user of
the environment on `/auth/environments/…`; a UUID the scenario did not learn is replaced by the id of a real
object of the scenario's first tenant. Checks: no 5xx, status, content type and body as documented, data
acceptance and rejection (`tests/fuzz/checks.py` lists what counts as acceptance), no use after a delete and no
404 for what a create just made.

`SUMP_FUZZ_EXAMPLES` sets the number of scenarios (20 by default; `make fuzz` runs 60 of up to 8 steps).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from typing import Any, ClassVar, cast

import pytest
from fastapi import FastAPI
from hypothesis import settings
from schemathesis.python import asgi

from tests.fuzz.checks import CONFORMANCE, DATA, STATEFUL
from tests.support import Database, bearer, make_settings
from tests.test_schemathesis import SLOW_AND_SHARED, Case, Worlds, schema

SCENARIOS = int(os.environ.get("SUMP_FUZZ_EXAMPLES", "20"))
STEPS = 8 if SCENARIOS > 20 else 5


class Keys:
    """Who owns what the run has made: the token for each tenant, environment and end-user pool it learned."""

    def __init__(self, worlds: Worlds) -> None:
        self.worlds = worlds
        self.owner_of_tenant: dict[str, str] = {}
        self.tenant_of_environment: dict[str, str] = {}
        self.end_user_of_environment: dict[str, str] = {}
        self.learned: set[str] = set()
        self.answered: Counter[tuple[str, int]] = Counter()

    def restart(self) -> None:
        self.worlds.current = None
        self.owner_of_tenant.clear()
        self.tenant_of_environment.clear()
        self.end_user_of_environment.clear()
        self.learned.clear()

    def learn(self, case: Case, status: int, body: Any) -> None:
        self.answered[case.operation.label, status] += 1
        if not 200 <= status < 300 or not isinstance(body, dict):
            return
        self.learned.update(_uuids(body))
        label = case.operation.label
        path = case.path_parameters or {}
        if label == "POST /api/v1/tenants":
            self.owner_of_tenant[body["tenantId"]] = body["token"]
            self.tenant_of_environment[body["environmentId"]] = body["tenantId"]
        elif label == "POST /api/v1/tenants/{tenantId}/environments" and "id" in body:
            self.tenant_of_environment[body["id"]] = path["tenantId"]
        elif label in {
            "POST /api/v1/auth/environments/{environmentId}/signup",
            "POST /api/v1/auth/environments/{environmentId}/login",
        } and isinstance(body.get("token"), str):
            self.end_user_of_environment[path["environmentId"]] = body["token"]

    def aim(self, case: Case) -> dict[str, str]:
        """The headers of the case's call; ids the run never learned are aimed at the first tenant's objects."""
        world = self.worlds.get()
        ids = {
            "tenantId": world.tenant_id,
            "environmentId": world.environment_id,
            "accountId": world.end_user.account_id
            if case.path.startswith("/api/v1/environments/")
            else world.member_id,
            "sessionId": (
                world.end_user if case.path.startswith("/api/v1/auth/environments/") else world.owner
            ).session_id,
        }
        parameters = case.path_parameters or {}
        for name, value in parameters.items():
            if name in ids and _is_uuid(value) and value not in self.learned:
                parameters[name] = ids[name]
        environment = parameters.get("environmentId")
        if case.path.startswith("/api/v1/auth/environments/"):
            token = self.end_user_of_environment.get(str(environment), world.end_user.token)
        else:
            tenant = parameters.get("tenantId") or self.tenant_of_environment.get(str(environment))
            token = self.owner_of_tenant.get(str(tenant), world.owner.token)
        return bearer(token)


def _uuids(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_uuids(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_uuids(item) for item in value)) if value else set()
    return {value} if _is_uuid(value) else set()


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Scenarios over the app and keys that the test puts here before it runs them."""

    app: ClassVar[FastAPI | None] = None
    keys: ClassVar[Keys | None] = None

    def setup(self) -> None:
        """Every scenario starts from a tenant of its own, so that a scenario replayed meets the same state."""
        if self.keys is not None:
            self.keys.restart()

    def get_call_kwargs(self, case: Case) -> dict[str, Any]:
        assert self.keys is not None
        return {"headers": self.keys.aim(case), "app": self.app}

    def after_call(self, response: Any, case: Case) -> None:
        super().after_call(response, case)
        assert self.keys is not None
        try:
            body = response.json()
        except ValueError:
            body = None
        self.keys.learn(case, response.status_code, body)
        self.keys.worlds.after(case, response.status_code)

    def validate_response(self, response: Any, case: Case, additional_checks: Any = None, **kwargs: Any) -> None:
        case.validate_response(
            response,
            checks=[*CONFORMANCE, *DATA, *STATEFUL],
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


@pytest.fixture
def fuzzed_app(database: Database) -> FastAPI:
    return create_fuzzed_app(database)


def create_fuzzed_app(database: Database) -> FastAPI:
    from sump.app import create_app

    return create_app(make_settings(database))


@pytest.mark.slow
@pytest.mark.asvs("VAL-01", "VAL-04", "VAL-07")
def test_stateful_scenarios(fuzzed_app: FastAPI) -> None:
    Workflow.app = fuzzed_app
    Workflow.keys = Keys(Worlds(asgi.get_client(cast(Any, fuzzed_app))))
    try:
        Workflow.run(
            settings=settings(
                max_examples=SCENARIOS,
                stateful_step_count=STEPS,
                deadline=None,
                derandomize=True,
                suppress_health_check=SLOW_AND_SHARED,
            )
        )
        # The scenarios went past creation: something made in a scenario was then read, changed or deleted.
        answered = Workflow.keys.answered
        assert any(200 <= status < 300 and not label.startswith("POST") for label, status in answered), answered
    finally:
        Workflow.app = Workflow.keys = None
