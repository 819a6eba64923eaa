"""RFC 9457 problem details: one exception type for every expected failure, and the handlers that render it.

Every body carries `type`, `title`, `status`, `detail`, `message` (the same sentence, which the original
Sump clients read), a stable `code` and the `requestId`; validation failures add `errors` (field → message).
Nothing from the request is echoed back.
"""

from __future__ import annotations

import json
import sqlite3
import traceback
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sump.kit.context import request_id_var

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("sump.errors")


class Problem(Exception):
    """An expected failure with a stable machine-readable `code`."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        media_type: str = PROBLEM_JSON,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra  # members of the problem type (RFC 9457 §3.2), such as OAuth 2.0's `error`
        self.media_type = media_type  # for the protocols that fix their errors' own (OAuth 2.0's application/json)

    def response(self) -> Response:
        return problem_response(
            self.status,
            self.code,
            self.detail,
            errors=self.errors,
            headers=self.headers,
            extra=self.extra,
            media_type=self.media_type,
        )


def not_found(what: str) -> Problem:
    return Problem(404, f"{what.replace(' ', '_')}_not_found", f"{what.capitalize()} not found.")


def unauthenticated(detail: str = "No valid session.") -> Problem:
    return Problem(401, "unauthenticated", detail, headers={"WWW-Authenticate": 'Bearer realm="sump"'})


def forbidden(code: str = "forbidden", detail: str = "You are not allowed to do this.") -> Problem:
    return Problem(403, code, detail)


def bad_request(code: str, detail: str, field: str | None = None) -> Problem:
    return Problem(400, code, detail, errors={field: detail} if field else None)


def conflict(code: str, detail: str, field: str | None = None) -> Problem:
    return Problem(409, code, detail, errors={field: detail} if field else None)


class ProblemBody(BaseModel):
    """Shape of every error response (RFC 9457)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    message: str
    code: str
    request_id: str = Field(alias="requestId")
    errors: dict[str, str] | None = None


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    media_type: str = PROBLEM_JSON,
) -> Response:
    """A problem+json response (or of `media_type`); `extra` adds members of the problem type (RFC 9457 §3.2)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "message": detail,
        "code": code,
        "requestId": request_id_var.get(),
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, headers=headers, media_type=media_type)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "This field is not allowed.",
    "uuid_parsing": "Must be a UUID.",
    "uuid_type": "Must be a UUID.",
    "string_type": "Must be a string.",
    "model_attributes_type": "Must be a JSON object.",
    "dict_type": "Must be a JSON object.",
}


def field_message(error: dict[str, Any]) -> str:
    if error["type"] in _MESSAGES:
        return _MESSAGES[error["type"]]
    message = str(error.get("msg", "Invalid value."))
    message = message.removeprefix("Value error, ")
    return message if message.endswith(".") else message + "."


async def _validation_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors: dict[str, str] = {}
    for error in exc.errors():
        if error["type"] == "json_invalid":
            return problem_response(400, "malformed_json", "The request body is not valid JSON.")
        errors.setdefault(_field_name(tuple(error["loc"])), field_message(error))
    return problem_response(400, "validation_failed", "The request is not valid.", errors=errors)


async def _problem_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response()


_HTTP_CODES = {
    404: ("route_not_found", "No such route."),
    405: ("method_not_allowed", "This method is not allowed on this route."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "The request body must be application/json."),
}


async def _http_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, detail = _HTTP_CODES.get(exc.status_code, ("http_error", HTTPStatus(exc.status_code).phrase + "."))
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):  # JSON nested deeper than the parser
        code, detail = "malformed_json", "The request body is not valid JSON."
    return problem_response(exc.status_code, code, detail, headers=dict(exc.headers or {}))


# SQLSTATEs of a database that cannot serve just now: a connection exception (class 08), a server shutting
# down, crashed or starting up (57P01..57P03), too many connections, a statement cancelled by its timeout.
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "57014"})
# A table or column the code expects is missing: the database is behind this version's migrations.
_NOT_MIGRATED_STATES = frozenset({"42P01", "42703"})
_SQLITE_NOT_MIGRATED = ("no such table", "no such column", "has no column named")
# SQLite's primary result codes of a statement it cannot run (SQLITE_ERROR: a syntax error, an unknown function;
# MISMATCH, MISUSE, RANGE), raised as OperationalError like those of a database that cannot serve now (BUSY,
# LOCKED, IOERR, FULL, CANTOPEN, READONLY).
_SQLITE_STATEMENT_ERRORS = frozenset({1, 20, 21, 25})
# The transaction was ended for a change made at the same time: a deadlock's victim, a serialization failure.
# PostgreSQL rolled it back, and the same request sent again can succeed.
_CONFLICT_STATES = frozenset({"40P01", "40001"})
RETRY_AFTER_UNAVAILABLE = "2"
RETRY_AFTER_CONFLICT = "1"
RETRY_AFTER_NOT_MIGRATED = "30"
UPGRADE_HINT = "run `sump db upgrade`"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what the driver raised beneath it (`orig`), and their causes and contexts."""
    found: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(found) < 16:
        current = pending.pop()
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return found


def _sqlstate(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else ""


def _sqlite_code(error: BaseException) -> int | None:
    """SQLite's primary result code of the error (None for one not raised by SQLite itself)."""
    code = getattr(error, "sqlite_errorcode", None) if isinstance(error, sqlite3.Error) else None
    return code & 0xFF if isinstance(code, int) else None


def database_not_migrated(exc: BaseException) -> bool:
    """The statement failed because the schema lacks a table or column: `sump db upgrade` was not run."""
    for error in _chain(exc):
        if _sqlstate(error) in _NOT_MIGRATED_STATES:
            return True
        if isinstance(error, sqlite3.OperationalError) and str(error).startswith(_SQLITE_NOT_MIGRATED):
            return True
    return False


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or cannot serve now: refused, reset, closed, shutting down or starting up,
    out of connections, too slow (a client or server timeout), or no connection free in the pool in time."""
    chain = _chain(exc)
    if any(_sqlite_code(error) in _SQLITE_STATEMENT_ERRORS for error in chain):
        return False  # the statement is wrong, not the database: a 500, logged with the statement
    for error in chain:
        if isinstance(error, PoolTimeout | OSError | OperationalError):  # OSError: refused, reset, timed out
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        state = _sqlstate(error)
        if state.startswith("08") or state in _UNAVAILABLE_STATES:
            return True
        if type(error).__name__ == "InterfaceError" and "connection is closed" in str(error):
            return True
    return False


def database_conflict(exc: BaseException) -> str | None:
    """The SQLSTATE when PostgreSQL ended the transaction for a concurrent change (deadlock, serialization)."""
    return next((state for error in _chain(exc) if (state := _sqlstate(error)) in _CONFLICT_STATES), None)


_not_migrated_said = False


def say_not_migrated(**fields: Any) -> None:
    """Logs once per process that the database needs `sump db upgrade` (every request would say it again)."""
    global _not_migrated_said
    if not _not_migrated_said:
        _not_migrated_said = True
        log.error("database_not_migrated", fix="sump db upgrade", **fields)


def _log_unexpected(exc: Exception) -> None:
    """A database error is logged by its kind, SQLSTATE, statement text and stack: never its message, which may
    quote a value (PostgreSQL's "invalid input syntax … \"<value>\"", a row's DETAIL)."""
    if not isinstance(exc, DBAPIError):
        log.error("unhandled_error", exc_info=exc)
        return
    log.error(
        "unhandled_error",
        error=" < ".join(type(error).__name__ for error in _chain(exc)),
        sqlstate=(_sqlstate(exc.orig) or None) if exc.orig is not None else None,
        statement=exc.statement,
        stack="".join(traceback.format_tb(exc.__traceback__)),
    )


def unexpected_response(exc: Exception) -> Response:
    """The answer to an exception nothing else handled: 409 for a lost uniqueness race, 503 when the database
    ended the transaction for a concurrent change (or a row the request changes was deleted meanwhile), is
    unreachable or is not migrated, otherwise a generic 500.
    The exception is logged, never shown."""
    if isinstance(exc, IntegrityError):
        log.info("integrity_conflict", error=type(exc.orig).__name__ if exc.orig else "IntegrityError")
        return problem_response(409, "conflict", "The request conflicts with a change made at the same time.")
    if database_not_migrated(exc):
        say_not_migrated(error=type(exc).__name__)
        return problem_response(
            503,
            "database_not_migrated",
            "The service is not ready: its database has not been upgraded to this version.",
            headers={"Retry-After": RETRY_AFTER_NOT_MIGRATED},
        )
    state = database_conflict(exc)
    # A row the request read and then changed was deleted meanwhile, by a request that committed first: sent
    # again, this one answers as it would have after that one (a 404 for the row).
    deleted = isinstance(exc, StaleDataError)
    if state is not None or deleted:
        # Logged as a warning, with the statement, so that the locks' order can be mended if it recurs.
        extra = {"row_deleted_meanwhile": True} if deleted else {}
        log.warning("database_conflict", sqlstate=state, statement=getattr(exc, "statement", None), **extra)
        return problem_response(
            503,
            "concurrent_change",
            "A change made at the same time stopped this request before it was stored; send it again.",
            headers={"Retry-After": RETRY_AFTER_CONFLICT},
        )
    if database_unavailable(exc):
        log.warning("database_unavailable", error=type(exc).__name__)
        return problem_response(
            503,
            "service_unavailable",
            "The service is temporarily unavailable.",
            headers={"Retry-After": RETRY_AFTER_UNAVAILABLE},
        )
    _log_unexpected(exc)
    return problem_response(500, "internal", "An unexpected error occurred.")


class UnexpectedErrorMiddleware:
    """Innermost middleware: turns an unhandled exception into a problem response (or what `answer` makes of
    it) while the request id is still known and before the security headers are added."""

    def __init__(self, app: ASGIApp, answer: Callable[[Scope, Exception], Response] | None = None) -> None:
        self.app = app
        self.answer = answer or (lambda _scope, exc: unexpected_response(exc))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await self.answer(scope, exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problem statuses a route can answer."""
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemBody"}}}
    return {status: {"description": HTTPStatus(status).phrase, "content": content} for status in statuses}
