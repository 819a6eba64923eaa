"""The authorization request a hosted page serves, if any (`sump.oidc.flow`).

Its token travels in the query string and in hidden form fields only. A page given a token that names no waiting
request of this environment (unknown, finished, expired, or another environment's) answers an error page and
never sends the browser anywhere: only `flow.continue_url` of a request found here is ever a redirect's target.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.environments import Environment
from sump.kit.errors import Problem
from sump.oidc import flow


@dataclass(frozen=True)
class Waiting:
    token: str
    pending: flow.Pending

    @property
    def client_name(self) -> str:
        return self.pending.client_name

    @property
    def login_hint(self) -> str:
        return self.pending.login_hint or ""


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
    found = await flow.pending(db, environment, token)
    if found is None:
        raise unknown_request()
    return Waiting(token, found)


def continue_url(environment_id: uuid.UUID, token: str) -> str:
    return flow.continue_url(environment_id, token)


def query(token: str) -> str:
    """The query string that carries a request's token to another hosted page."""
    return urlencode({"request": token})
