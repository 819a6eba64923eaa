"""OpenTelemetry traces: a request carrying a W3C `traceparent` gives a server span in the caller's trace, with a
child span per SQL statement; the pure-ASGI session check is traced too; with no `OTEL_*` variable no SDK or
instrumentation module is even imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from sump.app import create_app
from sump.kit import tracing
from sump.kit.crypto import new_token
from tests.support import Database, make_settings, new_tenant

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"


@pytest.fixture
async def traced(database: Database) -> AsyncIterator[tuple[FastAPI, InMemorySpanExporter]]:
    app = create_app(make_settings(database))
    exporter = InMemorySpanExporter()
    provider = tracing.instrument(app, exporter)
    yield app, exporter
    provider.shutdown()
    await app.state.engine.dispose()
    app.state.hasher.close()


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [span for span in spans if span.parent is not None and span.parent.span_id == parent.context.span_id]


def _server_span(spans: list[ReadableSpan]) -> ReadableSpan:
    servers = [span for span in spans if span.kind is SpanKind.SERVER]
    assert len(servers) == 1, [span.name for span in spans]
    return servers[0]


async def test_a_request_joins_the_callers_trace_with_a_span_per_statement(
    traced: tuple[FastAPI, InMemorySpanExporter],
) -> None:
    app, exporter = traced
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as http:
        world = await new_tenant(http)
        exporter.clear()
        tenant = await http.get(world.base, headers={**world.owner.auth, "traceparent": TRACEPARENT})
        framework = list(exporter.get_finished_spans())
        exporter.clear()
        session = f"/api/v1/auth/tenants/{world.tenant_id}/session"
        check = await http.get(session, headers={**world.owner.auth, "traceparent": TRACEPARENT})
        hot = list(exporter.get_finished_spans())

    assert tenant.status_code == 200
    server = _server_span(framework)
    assert server.name == "GET /api/v1/tenants/{tenantId}"
    assert (server.attributes or {}).get("http.route") == "/api/v1/tenants/{tenantId}"
    assert server.context is not None
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == CALLER_SPAN
    assert (server.attributes or {}).get("http.status_code", (server.attributes or {}).get("http.response.status_code"))
    statements = [span for span in framework if span.kind is SpanKind.CLIENT]
    assert statements, [span.name for span in framework]
    for statement in statements:  # every statement is a child of the request's span, in the caller's trace
        assert statement.parent is not None
        assert statement.parent.span_id == server.context.span_id
        assert statement.name.split()[0] in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT"}
        text = str((statement.attributes or {}).get("db.statement", (statement.attributes or {}).get("db.query.text")))
        assert world.tenant_id not in text  # the statement's text, never its parameters
    assert set(_children(framework, server)) == set(statements)

    # The session check, answered in front of the framework, is in the caller's trace too.
    assert check.status_code == 200
    checked = _server_span(hot)
    assert checked.name == "GET /api/v1/auth/tenants/{tenantId}/session"
    assert (checked.attributes or {}).get("http.route") == "/api/v1/auth/tenants/{tenantId}/session"
    assert checked.context is not None
    assert format(checked.context.trace_id, "032x") == TRACE_ID
    for statement in (span for span in hot if span.kind is SpanKind.CLIENT):
        assert statement.parent is not None
        assert statement.parent.span_id == checked.context.span_id


async def test_spans_are_named_by_the_route_a_request_is_counted_under_and_never_by_its_raw_path(
    traced: tuple[FastAPI, InMemorySpanExporter],
) -> None:
    """A mounted application's routes carry the mount's prefix; a path no route answers names no route (its
    text could be anything a client sent)."""
    app, exporter = traced
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        named = {}
        for path in ("/console/", f"/no/such/{new_token()}", "/health/live"):
            exporter.clear()
            await http.get(path)
            span = _server_span(list(exporter.get_finished_spans()))
            named[path.split("/")[1]] = (span.name, (span.attributes or {}).get("http.route"))
    assert named == {
        "console": ("GET /console/", "/console/"),
        "no": ("GET", None),
        "health": ("GET /health/live", "/health/live"),
    }


@pytest.mark.parametrize("variable", ["OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS"])
async def test_urls_excluded_by_the_otel_variables_are_not_traced_on_either_side_of_the_framework(
    database: Database, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """An operator keeps the probes (answered by the framework) and the JWKS (answered in front of it) out of the
    traces with the instrumentation's own variable; every other request is still traced."""
    monkeypatch.setenv(variable, "/health/.*, /\\.well-known/jwks\\.json")
    app = create_app(make_settings(database))
    exporter = InMemorySpanExporter()
    provider = tracing.instrument(app, exporter)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
            world = await new_tenant(http)
            exporter.clear()
            assert (await http.get("/health/live")).status_code == 200
            jwks = await http.get(f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json")
            assert jwks.status_code == 200, jwks.text
            assert not exporter.get_finished_spans(), [span.name for span in exporter.get_finished_spans()]
            session = await http.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=world.owner.auth)
            assert session.status_code == 200
        assert _server_span(list(exporter.get_finished_spans())).name == "GET /api/v1/auth/tenants/{tenantId}/session"
    finally:
        provider.shutdown()
        await app.state.engine.dispose()
        app.state.hasher.close()


def _run(code: str, tmp_path: Path, database: Database, **variables: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter that builds the application and answers one request, with only these `OTEL_*`."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("OTEL_", "SUMP_"))}
    environment.update(variables)
    environment["PYTHONPATH"] = str(Path(__file__).parents[2])
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        import httpx
        from sump.app import create_app
        from tests.support import Database, make_settings

        app = create_app(make_settings(Database({database.backend!r}, {database.url!r})))

        async def main():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
                assert (await http.get("/health/live")).status_code == 200
            await app.state.engine.dispose()
            app.state.hasher.close()

        asyncio.run(main())
        """
    ) + textwrap.dedent(code)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def test_without_otel_variables_no_sdk_or_instrumentation_is_imported(tmp_path: Path, database: Database) -> None:
    # FastAPI itself imports OpenTelemetry's API (the no-op interfaces): the SDK and instrumentations stay out.
    done = _run(
        """
        loaded = [name for name in sys.modules if name.startswith(("opentelemetry.sdk", "opentelemetry.instrumentation",
                                                                   "opentelemetry.exporter"))]
        print(json.dumps({"loaded": loaded, "provider": hasattr(app.state, "tracer_provider")}))
        """,
        tmp_path,
        database,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"loaded": [], "provider": False}


def test_otel_traces_exporter_turns_traces_on(tmp_path: Path, database: Database) -> None:
    done = _run(
        """
        app.state.tracer_provider.shutdown()
        """,
        tmp_path,
        database,
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="sump-under-test",
    )
    assert done.returncode == 0, done.stderr
    spans = json.loads("[" + done.stdout.replace("}\n{", "},\n{") + "]")
    assert [span["name"] for span in spans] == ["GET /health/live"]
    assert spans[0]["kind"] == "SpanKind.SERVER"
    assert spans[0]["resource"]["attributes"]["service.name"] == "sump-under-test"


def test_the_otel_variables_that_turn_traces_on() -> None:
    assert not tracing.wanted({})
    assert not tracing.wanted({"OTEL_SERVICE_NAME": "sump"})  # naming the service asks for no export
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not tracing.wanted({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"})


async def test_spans_hold_no_token_of_an_emailed_link_nor_a_credential_header(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An operator who asks for every header still gets none of the credentials they carry.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", ".*")
    app = create_app(make_settings(database))
    exporter = InMemorySpanExporter()
    provider = tracing.instrument(app, exporter)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as http:
            world = await new_tenant(http)
            link = new_token()  # what a reset link's `?token=` carries
            exporter.clear()
            page = await http.get(
                f"/api/v1/environments/{world.environment_id}/hosted/reset-password",
                params={"token": link, "lang": "en"},
                headers={**world.owner.auth, "Cookie": f"sump_session={world.owner.token}"},
            )
            spans = list(exporter.get_finished_spans())
    finally:
        provider.shutdown()
        await app.state.engine.dispose()
        app.state.hasher.close()

    assert page.status_code == 200
    assert link in page.text  # the page holds the token: the trace must not
    attributes = dict(_server_span(spans).attributes or {})
    assert str(attributes["http.url"]).endswith("/hosted/reset-password?token=REDACTED&lang=REDACTED")
    assert attributes["http.request.header.authorization"] == ("[REDACTED]",)
    assert attributes["http.request.header.cookie"] == ("[REDACTED]",)
    recorded = json.dumps([dict(span.attributes or {}) for span in spans], default=str)
    assert link not in recorded
    assert world.owner.token not in recorded


def test_the_frameworks_own_telemetry_records_nothing_beside_sumps(tmp_path: Path, database: Database) -> None:
    """With a process-wide tracer set (as `opentelemetry-instrument` or FastAPI's auto-configuration would set
    one), the framework's native telemetry would record a second server span of every request, with a link's
    query as it came; Sump's traces are the only ones, and hold no token."""
    code = f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from sump.kit import tracing

        process_wide = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(process_wide))
        trace.set_tracer_provider(provider)
        app = create_app(make_settings(Database({database.backend!r}, {database.url!r})))
        own = InMemorySpanExporter()
        tracing.instrument(app, own)

        async def link():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
                await http.get("/api/v1/accounts/verify-email", params={{"token": "SECRET-LINK-TOKEN"}})
            await app.state.engine.dispose()
            app.state.hasher.close()

        asyncio.run(link())
        spans = [*own.get_finished_spans(), *process_wide.get_finished_spans()]
        print(json.dumps({{
            "process_wide": len(process_wide.get_finished_spans()),
            "own": len(own.get_finished_spans()),
            "recorded": [dict(span.attributes or {{}}) for span in spans],
        }}, default=str))
    """
    ran = _run(code, tmp_path, database, FASTAPI_OTEL_AUTO_CONFIGURE="true")
    assert ran.returncode == 0, ran.stderr
    found = json.loads(ran.stdout.strip().splitlines()[-1])
    assert found["process_wide"] == 0
    assert found["own"] >= 1
    assert "SECRET-LINK-TOKEN" not in json.dumps(found["recorded"])
