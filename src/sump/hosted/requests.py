"""The authorization request a hosted page serves, if any.

Its token travels in the query string and in hidden form fields only. A page given a token that names no waiting
request of this environment answers an error page and never sends the browser anywhere. Until the authorization
endpoint exists, no request is ever waiting.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.environments import Environment
from sump.kit.errors import Problem


@dataclass(frozen=True)
class Waiting:
    token: str
    client_name: str
    login_hint: str


def unknown_request() -> Problem:
    return Problem(
        400,
        "invalid_request_token",
        "This sign-in request is unknown, has expired or was already finished. Go back to the application and "
        "sign in from there again.",
    )


async def waiting(db: AsyncSession, environment: Environment, token: str) -> Waiting | None:
    """The request waiting behind `token` (None when no token was given); 400 `invalid_request_token` when
    none of this environment is."""
    if not token:
        return None
    raise unknown_request()


def continue_url(environment_id: uuid.UUID, token: str) -> str:
    """Where a finished hosted step sends the browser: the authorization request's next step."""
    return f"/api/v1/environments/{environment_id}/authorize/continue?request={token}"
