"""The relying-party test's fixtures: the console's (a real `sump serve` on SQLite, Debian's Chromium through
Playwright, a fresh context per test)."""

from tests.console.conftest import (  # noqa: F401  (fixtures)
    api,
    browser,
    console_server,
    page,
    playwright,
)
