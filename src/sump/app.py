"""The ASGI application: routers, middleware, error handlers and the resources that live as long as it does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from sump import __version__
from sump.access.cookies import COOKIE_NAME
from sump.accounts import links
from sump.accounts.magic_links import magic_link_preparer
from sump.accounts.reset import reset_preparer
from sump.audit.routes import router as audit_router
from sump.auth.automation_routes import router as automation_token_router
from sump.auth.credentials import SessionCredentials
from sump.auth.invitation_routes import router as invitation_accept_router
from sump.auth.passkey_routes import environment_router as environment_passkey_router
from sump.auth.passkey_routes import tenant_router as tenant_passkey_router
from sump.auth.routes import environment_router as environment_auth_router
from sump.auth.routes import tenant_router as tenant_auth_router
from sump.auth.token_routes import router as token_endpoint_router
from sump.clients import grants as client_grants
from sump.clients.routes import router as clients_router
from sump.config import Env, Settings, load_settings
from sump.db.engine import autocommit_engine, make_engine, make_sessionmaker, request_limits
from sump.db.held import HeldConnections
from sump.db.tables.outbox import OutboxKind
from sump.environment_accounts.routes import router as end_users_router
from sump.environments.routes import router as environments_router
from sump.factors import service as factors
from sump.factors.routes import admin_router as factors_admin_router
from sump.factors.routes import environment_router as environment_factors_router
from sump.factors.routes import tenant_router as tenant_factors_router
from sump.health.routes import api as health_api
from sump.health.routes import probes as health_probes
from sump.health.routes import schema_revisions
from sump.hot_paths import HotPaths
from sump.kit import route_index, tracing
from sump.kit.call import Runtime
from sump.kit.docs import install_docs
from sump.kit.edge import EdgeMiddleware
from sump.kit.email.mailers import mailer_for
from sump.kit.email.outbox import OutboxWorker
from sump.kit.errors import ProblemBody, UnexpectedErrorMiddleware, install_error_handlers, say_not_migrated
from sump.kit.lazy_app import LazyApp
from sump.kit.lockout import Lockout, LockoutPolicy
from sump.kit.logging import configure_logging
from sump.kit.metrics import RouteTemplates
from sump.kit.middleware import BodyLimitMiddleware, OriginGuardMiddleware
from sump.kit.origins import trusted_origins
from sump.kit.passwords import PasswordHasher
from sump.kit.ratelimit import RateLimiter
from sump.observability import install as install_observability
from sump.oidc import flow as authorization_flow
from sump.oidc.routes import router as oidc_router
from sump.onboarding.routes import router as onboarding_router
from sump.organizations.invitation_routes import router as organization_invitations_router
from sump.organizations.routes import catalog_router as organization_catalog_router
from sump.organizations.routes import router as organizations_router
from sump.sessions import service as sessions
from sump.tenant_accounts.invitation_routes import accept_router as tenant_invitation_accept_router
from sump.tenant_accounts.invitation_routes import router as tenant_invitations_router
from sump.tenant_accounts.routes import router as tenant_accounts_router
from sump.tenants.routes import router as tenants_router
from sump.tokens import service as tokens
from sump.tokens.routes import router as tokens_router

API_PREFIX = "/api/v1"
PURGE_INTERVAL_SECONDS = 3600
STOP_SECONDS = 5.0
HELD_CONNECTIONS = 8  # at most, and at most half the pool: checks beyond them wait in order, the others need some too
log = structlog.get_logger("sump")

DESCRIPTION = """Multi-tenant user management and authentication.

Compatible with the original Sump API, with these deliberate differences:
validation failures are RFC 9457 problem details (400) with a stable `code`; identifiers are unique per
tenant; sessions are valid only in their own tenant; the last owner cannot be removed; roles never name
another tenant; custom-property updates set every key given.
"""


# Under API_PREFIX, tried by the framework in this order, a route at a time (about 4 µs each): the end users'
# and accounts' own requests (sign-in, sign-up, tokens) first, the administration after them. No path matches
# routes of two of them (tests/test_routes.py), so the order changes how soon a route is found, never which.
API_ROUTERS = (
    tenant_auth_router,
    environment_auth_router,
    token_endpoint_router,
    tenant_passkey_router,
    environment_passkey_router,
    onboarding_router,
    tenants_router,
    tenant_accounts_router,
    tenant_invitations_router,
    tenant_invitation_accept_router,
    environments_router,
    end_users_router,
    tokens_router,
    oidc_router,
    tenant_factors_router,
    environment_factors_router,
    factors_admin_router,
    organizations_router,
    organization_invitations_router,
    invitation_accept_router,
    organization_catalog_router,
    audit_router,
    clients_router,
    automation_token_router,
    health_api,
)


def create_app(settings: Settings | None = None) -> Sump:
    settings = settings or load_settings()
    configure_logging(json_lines=settings.json_logs)

    @contextlib.asynccontextmanager
    async def lifespan(app: Sump) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_check_schema(app)),
            asyncio.create_task(_purge_expired_sessions(app)),
            asyncio.create_task(app.state.outbox.run_forever()),
            asyncio.create_task(_prepare_routes(app), name=PREPARING_ROUTES),
        ]
        try:
            yield
        finally:
            app.state.draining = True
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=STOP_SECONDS)  # the outbox hands back what it had claimed
            await app.state.engine.dispose()
            app.state.hasher.close()
            if getattr(app.state, "tracer_provider", None) is not None:
                app.state.tracer_provider.shutdown()  # sends the spans still batched

    app = Sump(
        title="Sump",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        redirect_slashes=False,
        # Sump traces and measures itself (`observability`); the framework's own would record a second span of
        # each request, its query as it came (a link's token), whenever a process-wide tracer is set.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.state.settings = settings
    limits = request_limits(settings.db_command_timeout)
    sqlite = settings.database_url.startswith("sqlite")
    pool = {} if sqlite else {"pool_size": settings.db_pool_size, "max_overflow": settings.db_pool_overflow}
    app.state.engine = make_engine(settings.database_url, limits, **pool)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.read_engine = autocommit_engine(app.state.engine)  # GET and HEAD: no BEGIN/COMMIT (db.deps)
    app.state.read_sessionmaker = make_sessionmaker(app.state.read_engine)
    held = min(HELD_CONNECTIONS, settings.db_pool_size // 2)
    app.state.held = HeldConnections(app.state.engine, held, limits.pool)  # for the session check
    app.state.hasher = PasswordHasher(
        settings.password_threads,
        settings.password_queue_size,
        by=None if settings.argon2_engine == "auto" else settings.argon2_engine,
    )
    app.state.limiter = RateLimiter(settings.redis_url, settings.rate_limits)
    app.state.lockout = Lockout(
        app.state.limiter.storage,
        LockoutPolicy(
            free_attempts=settings.lockout_free_attempts,
            lock_after=settings.lockout_threshold,
            window_minutes=settings.lockout_window_minutes,
            max_delay_seconds=settings.lockout_max_delay,
            account_ceiling=settings.lockout_account_ceiling,
        ),
    )
    app.state.outbox = OutboxWorker(
        app.state.sessionmaker,
        mailer_for(settings),
        {
            OutboxKind.PASSWORD_RESET: reset_preparer(settings, app.state.limiter),
            OutboxKind.MAGIC_LINK: magic_link_preparer(settings, app.state.limiter),
        },
    )
    app.state.credentials = SessionCredentials(settings)
    app.state.runtime = Runtime(
        settings, app.state.hasher, app.state.limiter, app.state.lockout, app.state.outbox, app.state.sessionmaker
    )
    app.state.draining = False
    app.answered = asyncio.Event()

    app.include_router(health_probes)  # first: a probe passes no other router, so it waits for none (_prepare_routes)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.add_api_route("/console", lambda: RedirectResponse("/console/", status_code=308), include_in_schema=False)
    # Built, and their modules imported, on their first request: see sump.kit.lazy_app.
    app.mount("/console", LazyApp(lambda: _console(app)))
    app.mount(API_PREFIX + "/environments/{environment_id}/hosted", LazyApp(lambda: _hosted(app)))
    install_docs(app)
    install_error_handlers(app)
    route_index.install(app.router)  # the framework's routing, over only the routes a path could match
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    # Outside the body limits (a refused write is not read) and inside CORS (a listed origin gets its headers).
    app.add_middleware(
        OriginGuardMiddleware,
        cookie_name=COOKIE_NAME,
        trusted=trusted_origins(settings.public_url, settings.cors_origins),
    )
    app.state.request_metrics = install_observability(app, settings)  # /metrics and traces, when configured
    return app


class Sump(FastAPI):
    """FastAPI, with what every HTTP exchange crosses put in front of the framework's own layers (its error,
    telemetry and body-limit middleware): the edge (request id, client address, security headers, access
    line), CORS when configured, and the hot paths, whose answers then cross nothing else (`front`). They are
    put together at the first request, as the framework's own stack is."""

    hot_paths = True  # without them (a test's comparison), every request reaches the framework
    _front: ASGIApp | None = None
    answered: asyncio.Event  # set once the first request has been answered (`_prepare_routes` waits for it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._front is None:
            self._front = front(self)
        await self._front(scope, receive, send)
        if scope["type"] == "http" and not self.answered.is_set():
            self.answered.set()

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The framework's own stack: its middleware, ours inside it, and the routes."""
        await super().__call__(scope, receive, send)


def front(app: Sump) -> ASGIApp:
    """The layers in front of `app.framework`, outermost first: the request's trace when traces are on, the
    edge, CORS, the hot paths (`sump.hot_paths`)."""
    settings: Settings = app.state.settings
    inner: ASGIApp = HotPaths(app.framework, state=app.state) if app.hot_paths else app.framework
    if settings.cors_origins:
        inner = CORSMiddleware(
            inner,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Content-Type", "Authorization", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Link", "Retry-After"],
            max_age=600,
        )
    edge = EdgeMiddleware(
        inner,
        trusted_proxies=settings.trusted_proxies,
        hsts=settings.env is Env.PROD,
        metrics=app.state.request_metrics,
    )
    provider = getattr(app.state, "tracer_provider", None)
    return edge if provider is None else tracing.traced(edge, RouteTemplates(lambda: app.routes), provider)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, with the problem-details schema every error response refers to."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        problem = ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schema.setdefault("components", {}).setdefault("schemas", {})["ProblemBody"] = problem
        for path in schema["paths"].values():
            for operation in path.values():
                responses = operation.get("responses", {})
                responses.pop("422", None)
        app.openapi_schema = schema
    return app.openapi_schema


def _console(app: FastAPI) -> FastAPI:
    from sump.console.app import create_console

    return create_console(app.state)


def _hosted(app: FastAPI) -> FastAPI:
    from sump.hosted.app import create_hosted

    return create_hosted(app.state)


PREPARING_ROUTES = "sump-preparing-routes"  # the task of `_prepare_routes`


async def _prepare_routes(app: Sump) -> None:
    """FastAPI builds the routes of an included router (their dependencies, body and response models) when a
    request first passes that router on its way, about 0.2 s of CPU for all of Sump's. They are built here once
    the worker has answered its first request (its readiness probe, where something orchestrates it), one router
    at a time between requests, so that neither that first answer (a worker serves sooner) nor the first request
    of each feature waits for them. Begun at start-up, they took turns with the first probe's every wait."""
    await app.answered.wait()
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "root_path": "", "headers": []}
    for route in app.router.routes:
        await asyncio.sleep(0)
        route.matches(scope)


async def _check_schema(app: FastAPI) -> None:
    """Says once at start-up when the database was never migrated (readiness answers 503 meanwhile)."""
    with contextlib.suppress(Exception):  # a database that does not answer yet is readiness's to report
        if not await schema_revisions(app.state.engine):
            say_not_migrated(revision="none")


async def _purge_expired_sessions(app: FastAPI) -> None:
    """Deletes expired and idle sessions (and expired sign-in challenges, emailed links, automation tokens and
    signing keys retired long since) once an hour, on a connection of its own with the longer limits of background
    work (a request's statement limit would stop a large purge)."""
    url = app.state.settings.database_url
    while True:
        engine = app.state.engine if url.startswith("sqlite") else make_engine(url, pool_size=1, max_overflow=0)
        try:
            async with make_sessionmaker(engine)() as db, db.begin():
                purged = await sessions.purge_expired(db, app.state.settings)
                await factors.purge_expired(db)
                await links.purge_expired(db)
                await client_grants.purge_expired(db)
                await authorization_flow.purge_expired(db)
                await tokens.purge_retired_keys(db)
            if purged:
                log.info("sessions_purged", count=purged)
        except Exception as exc:  # the purge is best effort; the next round retries
            log.warning("session_purge_failed", error=type(exc).__name__)
        finally:
            if engine is not app.state.engine:
                await engine.dispose()
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
