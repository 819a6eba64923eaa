"""The device cookie: which accounts signed in successfully from this browser before.

A signed list of account ids (`sump_device`, HttpOnly, a year). The lockout counts a known device's failures
apart from everyone else's and lets it in past the account's ceiling, so an attacker's guesses from elsewhere
never lock the owner out of the browser they use. It grants nothing by itself: the password is still checked.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from starlette.responses import Response

from sump.config import Settings
from sump.kit.crypto import sign_cookie, unsign_cookie

DEVICE_COOKIE = "sump_device"
MAX_REMEMBERED = 8
YEAR = 365 * 24 * 3600


def known_accounts(cookies: Mapping[str, str], settings: Settings) -> frozenset[uuid.UUID]:
    raw = cookies.get(DEVICE_COOKIE)
    value = unsign_cookie(settings.secret_key, raw, settings.previous_secret_keys, DEVICE_COOKIE) if raw else None
    if not value:
        return frozenset()
    found = set()
    for part in value.split(",")[:MAX_REMEMBERED]:
        try:
            found.add(uuid.UUID(hex=part))
        except ValueError:
            return frozenset()
    return frozenset(found)


def remember(response: Response, settings: Settings, known: frozenset[uuid.UUID], account_id: uuid.UUID) -> None:
    """Adds `account_id` to the browser's device cookie (the most recent accounts first)."""
    ids = [account_id, *(other for other in sorted(known) if other != account_id)][:MAX_REMEMBERED]
    value = sign_cookie(settings.secret_key, ",".join(one.hex for one in ids), DEVICE_COOKIE)
    response.set_cookie(
        DEVICE_COOKIE, value, max_age=YEAR, path="/", httponly=True, secure=settings.secure_cookies, samesite="lax"
    )
