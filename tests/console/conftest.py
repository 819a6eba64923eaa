"""The console end to end: a real `sump serve` (SQLite, real SMTP) driven by Debian's Chromium via Playwright.

Each xdist worker starts one server and one browser; each test gets a fresh browser context (no cookies) and
makes the tenants it needs through the public API, so tests never share state. Screenshots of the main pages
go to `test-output/console/`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request, expect, sync_playwright

from tests.mail import SmtpServer
from tests.servers import Server, free_port, sqlite_environment, start_server
from tests.support import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "console"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
expect.set_options(timeout=10_000)


@dataclass
class Owner:
    """A tenant made through the API, with its owner's credentials."""

    tenant_id: str
    tenant_name: str
    environment_id: str
    name: str
    email: str
    username: str
    token: str
    password: str = PASSWORD

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory, mailbox: SmtpServer) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("console")
    port = free_port()
    environment = sqlite_environment(
        directory,
        SUMP_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SUMP_RATE_LIMITS="off",
        SUMP_EMAIL_BACKEND="smtp",
        SUMP_SMTP_URL=f"smtp://127.0.0.1:{mailbox.port}",
    )
    server = start_server(directory, environment, port)
    yield server
    server.kill()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, not per session: while it runs, Playwright's sync API holds an event loop in this thread,
    and the asyncio tests of the next module (on the same xdist worker) need the thread back."""
    assert CHROMIUM.exists(), "Debian's chromium is needed: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
    yield launched
    launched.close()


def _context(browser: Browser, server: Server, viewport: dict[str, int]) -> BrowserContext:
    context = browser.new_context(base_url=server.base_url, viewport=viewport)  # type: ignore[arg-type]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    return context


@pytest.fixture
def page(browser: Browser, console_server: Server) -> Iterator[Page]:
    context = _context(browser, console_server, DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser, console_server: Server) -> Iterator[Page]:
    context = _context(browser, console_server, PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def api(console_server: Server) -> Iterator[httpx.Client]:
    # No cookie jar: every call says which credentials it sends (signing in ends the session of a cookie sent).
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    with httpx.Client(base_url=console_server.base_url + "/api/v1", timeout=10, cookies=jar) as http:
        yield http


def make_owner(api: httpx.Client, **tenant: str) -> Owner:
    tag = uuid.uuid4().hex[:8]
    name, email, username = f"Owner {tag}", f"owner-{tag}@example.com", f"owner_{tag}"
    body = {
        "tenant": {"name": tenant.get("name", f"Acme {tag}")},
        "account": {"name": name, "email": email, "username": username, "password": PASSWORD},
    }
    created = api.post("/tenants", json=body)
    assert created.status_code == 201, created.text
    data = created.json()
    return Owner(data["tenantId"], body["tenant"]["name"], data["environmentId"], name, email, username, data["token"])


@pytest.fixture
def owner(api: httpx.Client) -> Owner:
    return make_owner(api)


def sign_in(page: Page, tenant_id: str, identifier: str, password: str = PASSWORD) -> None:
    page.goto("/console/login")
    page.get_by_label("Tenant ID").fill(tenant_id)
    page.get_by_label("Email, username or phone").fill(identifier)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page: Page, owner: Owner) -> Page:
    sign_in(page, owner.tenant_id, owner.email, owner.password)
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)
    return page


def screenshot(page: Page, name: str) -> Path:
    """Saves the whole page under test-output/console/, named by page and viewport."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = SCREENSHOTS / f"{name}-{'phone' if width < 600 else 'desktop'}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def new_password_by_link(page: Page, address: str, password: str, landed: Callable[[], None]) -> None:
    """Opens the reset link `address`, sets `password` by its form and waits until `landed` holds, checking the
    requests made meanwhile: those of the page itself (its stylesheets and scripts, its form's post) carry no
    `Referer`, and none carries the token, in its address or in a header, after the one that opened the page."""
    token = parse_qs(urlsplit(address).query)["token"][0]
    made: list[tuple[Request, str]] = []

    def seen(request: Request) -> None:
        made.append((request, page.url))  # where the browser was when it made the request

    page.on("request", seen)
    try:
        page.goto(address)
        page.get_by_label("New password", exact=True).fill(password)
        page.get_by_label("Confirm the new password").fill(password)
        page.get_by_role("button", name="Set password").click()
        landed()
    finally:
        page.remove_listener("request", seen)
    later = [(request, at) for request, at in made if request.url != address]
    assert any(request.method == "POST" and at == address for request, at in later), [r.url for r, _ in made]
    for request, at in later:
        headers = request.all_headers()
        assert token not in request.url
        assert not any(token in value for value in headers.values()), request.url
        if at == address:
            assert "referer" not in headers, (request.url, headers["referer"])
