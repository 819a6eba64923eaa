"""OpenTelemetry traces, on when the standard `OTEL_*` variables ask for them, off (and not imported) otherwise.

On when `OTEL_TRACES_EXPORTER` names an exporter (`otlp` or `console`) or an OTLP endpoint is set
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), unless `OTEL_SDK_DISABLED=true` or the
exporter is `none`. The OTLP exporter (HTTP with protobuf) reads its own variables (endpoint, headers, timeout);
`OTEL_SERVICE_NAME` names the service (`sump` by default); the W3C `traceparent` of a request is its parent;
`OTEL_PYTHON_FASTAPI_EXCLUDED_URLS` (or `OTEL_PYTHON_EXCLUDED_URLS`) keeps matching URLs out, probes say.

`traced` wraps every layer of the application, the pure-ASGI session check and JWKS included, in the SDK's ASGI
instrumentation (a server span per request, named by the route template it is counted under), and
`instrument` follows each SQL statement of the application's engine (a client span per statement, its text
without parameters). When traces are off, nothing here runs and no SDK or instrumentation module is imported:
the request path is the same code as without it.

Spans hold no credential: a query string's values are replaced (an emailed link's `?token=` is one), and the
`Authorization` and `Cookie` headers are redacted even when `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*` ask
for every header.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode

from sump.kit.metrics import METHODS, UNMATCHED, RouteTemplates

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
EXPORTERS = ("otlp", "console")
SERVICE_NAME = "sump"
SANITIZE_HEADERS = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"
CREDENTIAL_HEADERS = ("authorization", "cookie")  # patterns: Proxy-Authorization and Set-Cookie too
_SPAN = "sump.span"  # the request's server span, in its scope
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")  # a parameter's name kept; anything else may be a value


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the `OTEL_*` variables ask for traces (see the module)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(exporter) or any(environ.get(name) for name in ENDPOINTS)


def instrument(app: FastAPI, exporter: SpanExporter | None = None) -> TracerProvider:
    """A provider sending `app`'s spans to `exporter` (by default, the one `OTEL_TRACES_EXPORTER` names, sent in
    batches), with a client span per SQL statement of its engine; `traced` adds the server spans. Call before
    the first request. The provider is the caller's to shut down."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(named))
    if exporter is None:
        provider.add_span_processor(BatchSpanProcessor(_configured_exporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _trace_statements(app.state.engine.sync_engine, provider)
    app.state.tracer_provider = provider  # the application's front layers trace with it (`traced`)
    return provider


def traced(front: ASGIApp, templates: RouteTemplates, provider: TracerProvider) -> ASGIApp:
    """`front` (the layers in front of the framework, hot paths included) with a server span per request;
    `traceparent` is its parent. The span is named `{method} {route}` (with `http.route`) at the response's
    start, once the route is known: the template the metrics count it under (`RouteTemplates`), read from the
    scope the framework has routed, so no route is matched twice. A URL matching
    `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS` (else `OTEL_PYTHON_EXCLUDED_URLS`: regular expressions, comma-separated)
    is not traced at all, its statements included."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware, get_host_port_url_tuple
    from opentelemetry.instrumentation.utils import suppress_instrumentation
    from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
    from opentelemetry.util.http import get_excluded_urls

    def method_of(scope: Scope) -> str:
        method: str = scope.get("method", "")
        return method if method in METHODS else "HTTP"

    def started(span: Span, scope: dict[str, Any]) -> None:
        scope[_SPAN] = span
        _hide_query_values(span, scope)

    async def naming(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start" and (route := templates.of(scope)) != UNMATCHED:
                span: Span = scope[_SPAN]
                span.update_name(f"{method_of(scope)} {route}")
                span.set_attribute(HTTP_ROUTE, route)
            await send(message)

        await front(scope, receive, send_named)

    # `send` and `receive` spans would double the spans of every request and say nothing a server span does not.
    spanned = OpenTelemetryMiddleware(
        naming,
        default_span_details=lambda scope: (method_of(scope), {}),
        server_request_hook=started,
        tracer_provider=provider,
        http_capture_headers_sanitize_fields=[*_listed(os.environ.get(SANITIZE_HEADERS, "")), *CREDENTIAL_HEADERS],
        exclude_spans=["receive", "send"],
    )
    excluded = get_excluded_urls("FASTAPI")  # the instrumentation's own reading of the two variables

    def excluded_url(scope: Scope) -> bool:
        url: str = get_host_port_url_tuple(scope)[2]  # type: ignore[no-untyped-call]  # as the variable is matched
        return excluded.url_disabled(url)

    async def traced_front(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and excluded_url(scope):
            with suppress_instrumentation():  # no root span per statement either
                await front(scope, receive, send)
            return
        await spanned(scope, receive, send)

    return traced_front


def _listed(value: str) -> list[str]:
    return [one.strip() for one in value.split(",") if one.strip()]


def _hide_query_values(span: Span, scope: dict[str, Any]) -> None:
    """The request span's URL and query keep the query's names, each value replaced: a value may be a credential
    (a reset, invitation or sign-in link's `token`), which the instrumentation would record as it came."""
    query = scope.get("query_string", b"").decode("latin-1")
    attributes = getattr(span, "attributes", None)
    if not query or not span.is_recording() or attributes is None:
        return
    pairs = parse_qsl(query, keep_blank_values=True)
    hidden = urlencode([(name if _NAME.fullmatch(name) else "REDACTED", "REDACTED") for name, _ in pairs])
    url, recorded = attributes.get("http.url"), f"?{unquote(query)}"
    if isinstance(url, str):
        base = url.removesuffix(recorded) if url.endswith(recorded) else url.partition("?")[0]
        span.set_attribute("http.url", f"{base}?{hidden}")
    if "url.query" in attributes:
        span.set_attribute("url.query", hidden)


def _configured_exporter() -> SpanExporter:
    name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(service_name=os.environ.get("OTEL_SERVICE_NAME", SERVICE_NAME))
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name} is not supported: use one of {', '.join(EXPORTERS)} or none")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _trace_statements(engine: Any, provider: TracerProvider) -> None:
    """A client span per statement of `engine`, by the SQLAlchemy instrumentation's engine listeners (on this
    engine only: the instrumentor would also patch every engine the process creates)."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import NoOpMeterProvider

    class Statements(EngineTracer):
        def _before_cur_exec(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any) -> Any:
            # The reads that run as the driver's own statements on PostgreSQL (`db.direct`: the session check's
            # lookup, the admin list's page) tell the listeners before, without a context to keep a span in nor
            # an event after: the request's server span holds their time.
            if context is None:
                return statement, params
            return super()._before_cur_exec(conn, cursor, statement, params, context, many)  # type: ignore[no-untyped-call]

    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__)
    usage = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("db.client.connections.usage")
    Statements(tracer, engine, usage)  # type: ignore[no-untyped-call]
