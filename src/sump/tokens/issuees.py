"""Who tokens are issued for and to: the session (its id and how it was signed in) and, for the authorization
code flow, the OAuth client with the scope it was granted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


class SignedIn(Protocol):
    """The session tokens are issued for: its id and how it was signed in."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def amr(self) -> list[str] | None: ...


@dataclass(frozen=True)
class Issuee:
    """The OAuth client tokens are issued to (authorization code flow), and the scope it was granted: access
    tokens carry them (RFC 9068 `client_id`, `scope`), refresh tokens are bound to the client."""

    pk: uuid.UUID
    client_id: str
    scope: str
    # A third-party client's access token is for the userinfo endpoint only: its audience is that endpoint,
    # not the environment, and it carries no organization, roles, permissions or metadata; so the builder's
    # APIs (the SDK checks the environment's audience) and Sump's own end-user routes refuse it.
    first_party: bool = True
    # At a refresh, the scopes the client's registration allows now: a scope an admin took away since is dropped
    # from the tokens it refreshes (None: no narrowing, as at the code exchange, which checked them).
    registered: frozenset[str] | None = None
