"""`GET /metrics`: a real scrape of a real application, parsed by prometheus-client's own text parser. Requests
counted under their route template (never an id), sign-ins by outcome, the hashing pool's places, the outbox's
failures and backlog, and the endpoint hidden (404 like any unknown path) without the token."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from sump.app import create_app
from sump.db.base import utcnow
from sump.db.tables.outbox import OutboxMessage, OutboxStatus
from sump.kit.email.mailers import Email
from sump.kit.email.outbox import enqueue_email
from sump.kit.logging import configure_logging
from sump.kit.passwords import draw_on_share
from tests.support import PASSWORD, Database, bearer, make_settings, new_tenant

TOKEN = "metrics-token-0123456789abcdef"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
Factory = Callable[..., FastAPI]


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, labels) → value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def make_app(database: Database) -> AsyncIterator[Factory]:
    apps: list[FastAPI] = []

    def build(**overrides: Any) -> FastAPI:
        app = create_app(make_settings(database, metrics_token=TOKEN, **overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        await app.state.engine.dispose()
        app.state.hasher.close()


@contextlib.asynccontextmanager
async def client_of(app: FastAPI, ip: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 50000))
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # each request says which credentials it sends
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as http:
        yield http


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics", headers=bearer(TOKEN))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


async def test_requests_are_counted_by_route_template_and_status(make_app: Factory) -> None:
    async with client_of(make_app()) as http:
        world = await new_tenant(http)
        before = await scrape(http)
        for _ in range(3):
            assert (await http.get(world.base, headers=world.owner.auth)).status_code == 200
        session = f"/api/v1/auth/tenants/{world.tenant_id}/session"
        assert (await http.get(session, headers=world.owner.auth)).status_code == 200  # the pure-ASGI path
        assert (await http.get(session)).status_code == 401
        jwks = f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json"
        assert (await http.get(jwks)).status_code == 200
        missing = await http.get(f"/api/v1/no-such-thing/{uuid.uuid4()}")
        assert missing.status_code == 404
        console = await http.get("/console/")  # a mounted application's route
        after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    tenant = {"method": "GET", "route": "/api/v1/tenants/{tenantId}"}
    assert delta("sump_http_requests_total", **tenant, status="200") == 3
    assert delta("sump_http_request_duration_seconds_count", **tenant) == 3
    assert delta("sump_http_request_duration_seconds_bucket", **tenant, le="+Inf") == 3
    assert delta("sump_http_request_duration_seconds_sum", **tenant) > 0
    session_route = {"method": "GET", "route": "/api/v1/auth/tenants/{tenantId}/session"}
    assert delta("sump_http_requests_total", **session_route, status="200") == 1
    assert delta("sump_http_requests_total", **session_route, status="401") == 1
    jwks_route = "/api/v1/environments/{environmentId}/.well-known/jwks.json"
    assert delta("sump_http_requests_total", method="GET", route=jwks_route, status="200") == 1
    assert delta("sump_http_requests_total", method="GET", route="unmatched", status="404") == 1
    console_route = {"method": "GET", "route": "/console/", "status": str(console.status_code)}
    assert delta("sump_http_requests_total", **console_route) == 1
    # The previous scrape is counted too, under its own route.
    assert delta("sump_http_requests_total", method="GET", route="/metrics", status="200") == 1
    # No id of the requests ever became a label value.
    ids = {world.tenant_id, world.environment_id, world.owner.account_id}
    assert not {v for _, labels in after for _, v in labels if any(i in v for i in ids)}


async def test_sign_ins_are_counted_by_outcome(make_app: Factory) -> None:
    app = make_app(lockout_free_attempts=2, lockout_threshold=2, lockout_max_delay=0)
    async with client_of(app, "198.51.100.1") as http, client_of(app, "203.0.113.9") as attacker:
        world = await new_tenant(http)
        user = await world.add_end_user()
        before = await scrape(http)
        login = f"{user.auth_base}/login"
        right = await http.post(login, json={"email": user.email, "password": PASSWORD})
        wrong = [await attacker.post(login, json={"email": user.email, "password": f"wrong {n}"}) for n in range(2)]
        locked = await attacker.post(login, json={"email": user.email, "password": PASSWORD})
        unknown = await http.post(login, json={"email": "nobody@example.com", "password": PASSWORD})
        after = await scrape(http)

    assert right.status_code == 200
    assert [(r.status_code, r.json()["code"]) for r in wrong] == [(401, "invalid_credentials")] * 2
    assert (locked.status_code, locked.json()["code"]) == (429, "too_many_attempts")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "invalid_credentials")

    def delta(outcome: str) -> float:
        return value(after, "sump_sign_ins_total", outcome=outcome) - value(
            before, "sump_sign_ins_total", outcome=outcome
        )

    assert delta("success") == 1
    assert delta("wrong_password") == 3  # the two wrong passwords and the unknown identifier, answered alike
    assert delta("locked") == 1
    assert delta("refused_load") == 0


async def test_a_sign_in_refused_for_load_is_counted_and_the_places_held_are_shown(make_app: Factory) -> None:
    app = make_app(password_threads=1, password_queue_size=0)
    async with client_of(app) as http:
        world = await new_tenant(http)
        before = await scrape(http)
        draw_on_share(world.tenant_id)  # another request of the same tenant holds the pool's one place
        async with app.state.hasher.slot():
            refused = await http.post(
                f"/api/v1/auth/tenants/{world.tenant_id}/login",
                json={"username": world.owner.username, "password": PASSWORD},
            )
            during = await scrape(http)
        after = await scrape(http)

    assert (refused.status_code, refused.json()["code"]) == (503, "overloaded")
    outcome = "refused_load"
    assert (
        value(during, "sump_sign_ins_total", outcome=outcome) - value(before, "sump_sign_ins_total", outcome=outcome)
        == 1
    )
    assert value(during, "sump_hashing_queue_depth") - value(before, "sump_hashing_queue_depth") == 1
    assert value(after, "sump_hashing_queue_depth") == value(before, "sump_hashing_queue_depth")
    login = {"method": "POST", "route": "/api/v1/auth/tenants/{tenantId}/login", "status": "503"}
    assert value(during, "sump_http_requests_total", **login) - value(before, "sump_http_requests_total", **login) == 1
    # Every hash that ran has its wait recorded (the tenant's creation hashed a password).
    assert value(after, "sump_hashing_wait_seconds_count") >= 1


class FailingMailer:
    async def send(self, email: Email) -> None:
        raise ConnectionRefusedError("the mail server is away")


async def test_outbox_backlog_and_delivery_failures(make_app: Factory) -> None:
    app = make_app()
    app.state.outbox.mailer = FailingMailer()
    async with client_of(app) as http:
        before = await scrape(http)
        async with app.state.sessionmaker() as db, db.begin():
            await enqueue_email(db, "password_changed", f"to-{uuid.uuid4().hex[:8]}@example.com", name="Someone")
        queued = await scrape(http)
        async with app.state.sessionmaker() as db:  # this one, and any other test's message due on this database
            due = await db.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= utcnow())
            )
        await app.state.outbox.run_once()
        failed = await scrape(http)

    assert value(queued, "sump_outbox_backlog") - value(before, "sump_outbox_backlog") == 1
    retried = value(failed, "sump_outbox_delivery_failures_total", outcome="retried")
    assert due is not None
    assert due >= 1
    assert retried - value(before, "sump_outbox_delivery_failures_total", outcome="retried") == due
    assert value(failed, "sump_outbox_backlog") == value(queued, "sump_outbox_backlog")  # each waits for its retry
    assert value(failed, "sump_outbox_sent_total") == value(before, "sump_outbox_sent_total")


async def test_pool_in_use_and_key_age_are_shown(make_app: Factory) -> None:
    app = make_app()
    async with client_of(app) as http:
        world = await new_tenant(http)
        user = await world.add_end_user()
        # An access token signs with the environment's key: made on first use.
        token = await http.post(f"{user.auth_base}/token", json={"grantType": "session"}, headers=user.auth)
        idle = await scrape(http)
        async with app.state.engine.connect():
            held = await scrape(http)

    assert token.status_code in (200, 201), token.text
    assert value(held, "sump_db_pool_connections_in_use") - value(idle, "sump_db_pool_connections_in_use") == 1
    assert 0 <= value(held, "sump_signing_key_age_seconds") < 3600


async def test_metrics_answer_404_without_the_token_and_never_log_it(
    make_app: Factory, database: Database, capfd: pytest.CaptureFixture[str]
) -> None:
    served, unset = make_app(), create_app(make_settings(database))
    configure_logging(json_lines=True)  # as in production: access lines written to the standard error at once
    async with client_of(served) as http:
        unknown = await http.get("/no-such-path")
        anonymous = await http.get("/metrics")
        wrong = await http.get("/metrics", headers=bearer(TOKEN + "x"))
        basic = await http.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        right = await http.get("/metrics", headers=bearer(TOKEN))
    async with client_of(unset) as http:
        not_served = await http.get("/metrics", headers=bearer(TOKEN))
    configure_logging(json_lines=False)
    await unset.state.engine.dispose()
    unset.state.hasher.close()
    logged = capfd.readouterr().err

    def shape(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
        body = {key: item for key, item in response.json().items() if key != "requestId"}
        return response.status_code, response.headers["content-type"], body

    assert shape(unknown) == (404, "application/problem+json", shape(unknown)[2])
    assert shape(unknown)[2]["code"] == "route_not_found"
    for hidden in (anonymous, wrong, basic, not_served):
        assert shape(hidden) == shape(unknown)
    assert right.status_code == 200
    assert "sump_http_requests_total" in right.text
    assert "/metrics" in logged  # the access lines were written here
    assert TOKEN not in logged
    assert TOKEN not in right.text


async def test_metrics_answer_every_method_as_an_unknown_path_does(make_app: Factory) -> None:
    """Not 405 with `Allow: GET` where an unknown path answers 404: that would tell that metrics are served."""

    def shape(response: httpx.Response) -> tuple[int, str | None, str | None, dict[str, Any] | None]:
        body = response.json() if response.content else None
        if body is not None:
            body.pop("requestId")
        return response.status_code, response.headers.get("content-type"), response.headers.get("allow"), body

    async with client_of(make_app()) as http:
        for method in ("POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND"):
            for auth in ({}, bearer(TOKEN)):
                unknown = await http.request(method, "/no-such-path", headers=auth)
                hidden = await http.request(method, "/metrics", headers=auth)
                assert unknown.status_code == 404, method
                assert shape(hidden) == shape(unknown), method
        assert (await http.get("/metrics", headers=bearer(TOKEN))).status_code == 200


async def test_the_openapi_document_does_not_list_metrics(make_app: Factory) -> None:
    async with client_of(make_app()) as http:
        document = (await http.get("/openapi.json")).json()
    assert "/metrics" not in document["paths"]
