"""The hosted pages of every environment, mounted under `/api/v1/environments/{environment_id}/hosted` by the
main application and sharing its state: server-rendered forms for end users on the same services as the API,
outside the OpenAPI document, working without JavaScript."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from sump.environments import service as environments
from sump.hosted import accounts, consent, passkeys, sign_in
from sump.hosted.branding import Brand, brand_of
from sump.hosted.web import EnvironmentDep, base_path, content_security_policy, environment_id_of, templates
from sump.kit.errors import Problem, UnexpectedErrorMiddleware, unexpected_response

STATIC = Path(__file__).parent / "static"
TITLES = {
    400: "This link does not work",
    403: "Not allowed",
    404: "Not found",
    413: "Too large",
    415: "Not a form",
    429: "Slow down",
    503: "Unavailable",
}
NOTHING_HERE = "There is nothing at this address."


def create_hosted(state: State) -> FastAPI:
    hosted = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
    hosted.state = state
    hosted.mount("/static", StaticFiles(directory=STATIC), name="static")
    hosted.add_api_route("/brand.css", _brand_css, methods=["GET"])
    for module in (sign_in, passkeys, accounts, consent):
        hosted.include_router(module.router)
    hosted.add_exception_handler(Problem, _problem)
    hosted.add_exception_handler(RequestValidationError, _not_found)
    hosted.add_exception_handler(StarletteHTTPException, _http_error)
    hosted.add_middleware(UnexpectedErrorMiddleware, answer=_unexpected_page)
    return hosted


async def _brand_css(environment: EnvironmentDep) -> Response:
    """The environment's colour as a CSS custom property: a style sheet of Sump's own, so the pages need no
    inline style (their Content-Security-Policy allows none)."""
    return Response(brand_of(environment).style_sheet(), media_type="text/css")


async def _brand(request: Request) -> Brand | None:
    """The branding of the path's environment, for an error page (none when there is no such environment)."""
    environment_id = environment_id_of(request)
    if environment_id is None:
        return None
    async with request.app.state.sessionmaker() as db:
        try:
            return brand_of(await environments.named(db, environment_id))
        except Problem:
            return None


def _page(request: Request, brand: Brand | None, status: int, message: str, title: str | None = None) -> Response:
    environment_id = environment_id_of(request)
    context: dict[str, Any] = {
        "brand": brand or Brand(name="Sign in"),
        "base": base_path(environment_id) if environment_id else None,
        "title": title or TITLES.get(status, "Something went wrong"),
        "message": message,
        "errors": {},
        "values": {},
        "referrer": "no-referrer",  # no form to post, and its address may hold a link's token
    }
    response = templates.TemplateResponse(request, "error.html", context, status_code=status)
    response.headers["Content-Security-Policy"] = content_security_policy(brand or Brand(name=""))
    return response


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    response = _page(request, await _brand(request), exc.status, exc.detail)
    response.headers.update({k: v for k, v in exc.headers.items() if k.lower() == "retry-after"})
    return response


async def _not_found(request: Request, _exc: Exception) -> Response:
    return _page(request, await _brand(request), 404, NOTHING_HERE)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = NOTHING_HERE if exc.status_code == 404 else str(exc.detail)
    return _page(request, await _brand(request), exc.status_code, message)


def _unexpected_page(scope: Scope, exc: Exception) -> Response:
    answer = unexpected_response(exc)
    message = (
        "Try again in a moment." if answer.status_code == 503 else "An unexpected error occurred; it has been logged."
    )
    page = _page(Request(scope), None, answer.status_code, message)
    page.headers.update({k: v for k, v in answer.headers.items() if k.lower() == "retry-after"})
    return page
