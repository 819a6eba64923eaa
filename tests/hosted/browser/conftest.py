"""The hosted pages in Chromium: the console's browser fixtures (a real `sump serve` on SQLite, Debian's Chromium
through Playwright, a fresh context per test at laptop or phone width)."""

from tests.console.conftest import (  # noqa: F401  (fixtures)
    api,
    browser,
    console_server,
    page,
    phone,
    playwright,
)
