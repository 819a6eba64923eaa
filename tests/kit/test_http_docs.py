"""The OpenAPI document and the API docs page, served with same-origin assets only."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx


async def test_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/tenants" in document["paths"]
    assert "/api/v1/health" in document["paths"]
    assert "ProblemBody" in document["components"]["schemas"]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values.get("src"))
        if tag == "link" and values.get("rel") == "stylesheet" and values.get("href"):
            self.styles.append(str(values["href"]))


async def test_api_docs_load_only_same_origin_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/api-docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assets = _Assets()
    assets.feed(page.text)

    assert assets.scripts, "the docs page loads Swagger UI"
    assert None not in assets.scripts, "no inline script (the CSP would block it)"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.text)
    for src in [*(str(script) for script in assets.scripts), *assets.styles]:
        assert src.startswith("/")
        assert not src.startswith("//")
        asset = await client.get(src)
        assert asset.status_code == 200, src
        assert asset.content


async def test_swagger_bundle_is_served_locally(client: httpx.AsyncClient) -> None:
    response = await client.get("/api-docs/static/swagger-ui-bundle.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert len(response.content) > 100_000
    assert b"SwaggerUIBundle" in response.content
