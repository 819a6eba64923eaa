"""An ASGI application built on its first request: the console and the hosted pages are mounted this way, so a
worker that serves only the API never imports their routes, forms, Jinja2 environments and templates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send


class LazyApp:
    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None

    @property
    def app(self) -> ASGIApp:
        if self._app is None:
            self._app = self._build()
        return self._app

    @property
    def routes(self) -> list[Any]:
        """The built application's routes, so that `url_for` and route listings see through the mount."""
        return list(getattr(self.app, "routes", []))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
