"""The check itself: origins put in one form, the decision by origin then fetch metadata, and the guard's reading
of the request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sump.kit.middleware import OriginGuardMiddleware
from sump.kit.origins import from_trusted_origin, origin_of, trusted_origins
from tests.kit.origins.support import EVIL, PUBLIC


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://id.example", "https://id.example"),
        ("https://id.example/", "https://id.example"),
        ("https://ID.Example:443/sump/", "https://id.example"),
        ("http://id.example:80", "http://id.example"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("null", None),
        ("", None),
        ("*", None),
        ("ftp://id.example", None),
        ("https://", None),
        ("https://id.example:99999", None),
        ("https://user@id.example", None),
        ("id.example", None),
    ],
)
def test_origins_are_compared_in_one_form(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_the_check_decides_by_origin_then_fetch_metadata() -> None:
    trusted = trusted_origins("https://id.example/", ["https://dashboard.example", "*", "nonsense"])
    assert trusted == frozenset({"https://id.example", "https://dashboard.example"})

    def check(origin: str | None, site: str | None, host: str | None = "10.0.0.5:8080") -> bool:
        return from_trusted_origin(origin, site, "http", host, trusted)

    assert check("https://id.example", None)
    assert check("https://dashboard.example", "cross-site")
    assert check("http://10.0.0.5:8080", "same-origin")
    assert check("HTTP://10.0.0.5:8080", None)
    assert check("https://id.example:443", None)
    assert not check("https://10.0.0.5:8080", None)  # another scheme is another origin
    assert not check("https://evil.example", "same-origin")
    assert not check("null", None)
    assert check("null", "same-origin")  # a page that sends no referrer
    assert check("null", " Same-Origin ")
    assert not check("null", "same-site")
    assert not check("null", "cross-site")
    assert not check("null", "none")
    assert not check("null", "nonsense")
    assert not check("", None)
    assert not check(None, "cross-site")
    assert not check(None, "same-site")
    assert not check(None, "nonsense")
    assert check(None, "same-origin")
    assert check(None, "None")
    assert check(None, None)
    assert not check("http://10.0.0.5:8080", None, host=None)  # no Host: only the trusted list counts
    # Behind a TLS proxy Sump sees http for its public host: that host under another scheme is not Sump's.
    assert not check("http://id.example", "same-origin", host="id.example")
    assert not check("http://id.example:8080", None, host="id.example:8080")
    assert check("https://id.example", None, host="id.example")
    assert check("https://id.example", None, host=None)


async def test_reads_cost_no_header_parsing() -> None:
    """GET, HEAD and OPTIONS go straight through: the headers are not even looked at."""

    class Untouchable(list[tuple[bytes, bytes]]):
        def __iter__(self) -> Any:
            raise AssertionError("headers read on a safe method")

    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["method"])

    guard = OriginGuardMiddleware(app, cookie_name="sump_session", trusted=frozenset())
    for method in ("GET", "HEAD", "OPTIONS"):
        await guard({"type": "http", "method": method, "path": "/api/v1/x", "headers": Untouchable()}, None, None)  # type: ignore[arg-type]
    assert reached == ["GET", "HEAD", "OPTIONS"]


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ([(b"cookie", b"sump_session=s%3Aabc")], True),
        ([(b"cookie", b"a=1"), (b"cookie", b"b=2; sump_session=s%3Aabc")], True),
        ([(b"cookie", b"sump_session=s%3Aabc"), (b"cookie", b"a=1")], True),
        ([(b"cookie", b"sump_session=s%3Aabc"), (b"authorization", b"Basic dTpw")], True),
        ([(b"cookie", b"sump_session=s%3Aabc"), (b"authorization", b"Bearer ")], True),
        (
            [(b"cookie", b"sump_session=s%3Aabc"), (b"authorization", b"Basic dTpw"), (b"authorization", b"Bearer a")],
            True,
        ),
        ([(b"cookie", b"sump_session=s%3Aabc"), (b"authorization", b"bearer abc")], False),
        ([(b"cookie", b"xsump_session=s%3Aabc; sump_sessions=1")], False),
        ([(b"cookie", b"sump_session=")], False),
        ([], False),
    ],
    ids=[
        "cookie",
        "second-cookie-header",
        "first-cookie-header",
        "basic-auth",
        "empty-bearer",
        "bearer-after-basic",
        "bearer",
        "look-alike",
        "empty",
        "none",
    ],
)
async def test_the_guard_reads_the_cookie_as_the_application_does(
    headers: list[tuple[bytes, bytes]], refused: bool
) -> None:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    guard = OriginGuardMiddleware(app, cookie_name="sump_session", trusted=frozenset({PUBLIC}))
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/anything",
        "headers": [(b"host", b"sump.test"), (b"origin", EVIL.encode()), *headers],
    }
    await guard(scope, None, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == (403 if refused else 204)
    if refused:
        assert json.loads(b"".join(message.get("body", b"") for message in sent[1:]))["code"] == "origin_refused"
