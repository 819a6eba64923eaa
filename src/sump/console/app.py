"""The admin console, mounted at `/console` by the main application and sharing its state (settings, database,
hasher, limiter): server-rendered pages on the same services as the API, with htmx as an enhancement only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from sump.console import (
    accounts,
    activity,
    clients,
    dashboard,
    end_users,
    environments,
    factors,
    keys,
    links,
    organizations,
    passkeys,
    pickers,
    roles,
    settings,
    sign_in,
)
from sump.console.web import SignInRequired, login_url, redirect, render, signed_in_or_none
from sump.kit.errors import Problem, UnexpectedErrorMiddleware, unexpected_response

STATIC = Path(__file__).parent / "static"
UNEXPECTED = {
    409: ("Changed meanwhile", "Someone changed this at the same time. Reload the page and try again."),
    503: ("Unavailable", "Sump cannot reach its database just now. Try again in a moment."),
    500: ("Something went wrong", "An unexpected error occurred; it has been logged."),
}
TITLES = {403: "Not allowed", 404: "Not found", 413: "Too large", 415: "Not a form", 429: "Slow down"}


def create_console(state: State) -> FastAPI:
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
    console.state = state
    console.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (
        sign_in,
        links,
        dashboard,
        environments,
        end_users,
        pickers,
        organizations,
        roles,
        clients,
        keys,
        accounts,
        activity,
        settings,
        factors,
        passkeys,
    ):
        console.include_router(module.router)
    console.add_exception_handler(SignInRequired, _sign_in_required)
    console.add_exception_handler(Problem, _problem)
    console.add_exception_handler(RequestValidationError, _not_found)
    console.add_exception_handler(StarletteHTTPException, _http_error)
    console.add_middleware(UnexpectedErrorMiddleware, answer=_unexpected_page)
    return console


def _unexpected_page(scope: Scope, exc: Exception) -> Response:
    """What the API answers as problem+json for an unexpected failure (409 for a lost race, 503 when the
    database is down, else 500, logged the same way), the console answers as an HTML page."""
    answer = unexpected_response(exc)
    title, message = UNEXPECTED.get(answer.status_code, UNEXPECTED[500])
    page = render(Request(scope), "error.html", answer.status_code, title=title, message=message)
    page.headers.update({name: value for name, value in answer.headers.items() if name.lower() == "retry-after"})
    return page


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": login_url(exc.next_path)})
    return redirect(request, login_url(exc.next_path if request.method == "GET" else "/console/"))


async def _error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    async with request.app.state.sessionmaker() as db:
        actor = await signed_in_or_none(request, db, request.app.state.settings)
        await db.commit()
    response = render(
        request, "error.html", status, actor=actor, title=TITLES.get(status, "Something went wrong"), message=message
    )
    response.headers.update(headers or {})
    return response


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    if exc.code == factors.STEP_UP_CODE:
        return factors.step_up_redirect(request)
    return await _error_page(request, exc.status, exc.detail, exc.headers)


async def _not_found(request: Request, _exc: Exception) -> Response:
    return await _error_page(request, 404, "There is nothing at this address.")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = "There is nothing at this address." if exc.status_code == 404 else str(exc.detail)
    return await _error_page(request, exc.status_code, message)
