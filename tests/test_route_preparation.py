"""A worker builds its routes' dependencies and models (`sump.app._prepare_routes`) once it has answered its first
request: begun at start-up, the building took turns with every wait of the first probe and made it later
(docs/performance.md, "Start-up"). The lifespan is driven here as a server drives it."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import httpx

from sump.app import PREPARING_ROUTES, create_app
from tests.support import Database, make_settings


async def test_the_routes_are_prepared_once_the_first_request_is_answered(database: Database) -> None:
    app = create_app(make_settings(database))
    events: list[Any] = []
    for route in app.router.routes:

        def spy(scope: dict[str, Any], route: Any = route, matches: Any = route.matches) -> Any:
            if "app" not in scope:  # the preparation's own scope: a request's has passed the framework first
                events.append(route)
            return matches(scope)

        route.matches = spy  # type: ignore[method-assign, assignment]

    async def served(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, send)
        events.append("answered")

    messages: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    sent: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    await messages.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, messages.get, sent.put))
    try:
        assert (await sent.get())["type"] == "lifespan.startup.complete"
        # The start-up's tasks run while the probe is on its way, as on a server.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://sump.test") as http:
            probe = await http.get("/health/ready")
        assert probe.status_code == 200, probe.text
        preparing = [task for task in asyncio.all_tasks() if task.get_name() == PREPARING_ROUTES]
        await asyncio.wait_for(asyncio.gather(*preparing), timeout=30)  # still at work, unless it is done
        assert events == ["answered", *app.router.routes]
    finally:
        await messages.put({"type": "lifespan.shutdown"})
        await lifespan
