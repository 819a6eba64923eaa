"""The interactive API docs at `/api-docs`, served from a packaged Swagger UI (no CDN)."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sump API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/api-docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api-docs/static/swagger-ui-bundle.js"></script>
<script src="/api-docs/init.js"></script></body></html>
"""
INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  withCredentials: true, presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
"""


def swagger_assets() -> Path:
    # Found without importing swagger_ui (its package loads PyYAML and more for nothing a server needs).
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install_docs(app: FastAPI) -> None:
    app.mount("/api-docs/static", StaticFiles(directory=swagger_assets()), name="api-docs-static")

    @app.get("/api-docs", include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/api-docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(INIT, media_type="text/javascript")
