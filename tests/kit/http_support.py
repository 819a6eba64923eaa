"""Helpers for the HTTP tests: an app of its own with other settings, requests as values, and what every
problem body holds."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from sump.app import create_app
from sump.config import Settings
from sump.kit import errors
from tests.support import Database

PEER = "203.0.113.7"  # the address the `client` fixture connects from
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "message", "code", "requestId"}
DEAD_DATABASE = Database("postgresql", "postgresql+asyncpg://postgres@127.0.0.1:1/sump")
Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@contextlib.contextmanager
def errors_logged(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MutableMapping[str, Any]]]:
    """What `kit.errors` logs while the block runs. Its logger is made anew under the capture: loggers are
    cached on first use, and one used before keeps the configuration it was made with."""
    with structlog.testing.capture_logs() as logs:
        monkeypatch.setattr(errors, "log", structlog.get_logger("sump.errors"))
        yield logs


@contextlib.asynccontextmanager
async def serving(settings: Settings, peer: str = PEER) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own (other settings than the shared one), with a client that keeps no cookies."""
    application = create_app(settings)
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False, client=(peer, 50000))
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as http:
            yield application, http
    finally:
        await application.state.engine.dispose()
        application.state.hasher.close()


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_MEMBERS, body
    assert body["status"] == status
    assert body["message"] == body["detail"]
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    assert body["title"]
    if code is not None:
        assert body["code"] == code
    return body


def json_post(url: str, content: bytes, content_type: str = "application/json") -> Call:
    async def call(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(url, content=content, headers={"Content-Type": content_type})

    return call


def get(url: str, **headers: str) -> Call:
    async def call(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get(url, headers=headers)

    return call


def request(method: str, url: str) -> Call:
    async def call(http: httpx.AsyncClient) -> httpx.Response:
        return await http.request(method, url)

    return call
