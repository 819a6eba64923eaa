"""The one resolver of credentials: a session token (bearer or the signed cookie) or an access token becomes
the signed-in account. The API's dependencies, the console and the fast session check all use it; the
application hands it to `sump.access` at start-up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from sump.access.actors import ClientActor, SignedIn, end_user_of
from sump.clients import grants as client_grants
from sump.config import Settings
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import AccountType
from sump.environment_accounts import service as end_users
from sump.environments import service as environments
from sump.sessions import service as sessions
from sump.tokens import service as tokens


@dataclass(frozen=True)
class Caller:
    """Who presented an environment's session or access token: the end user, their session, and the access
    token's claims (none for a session token)."""

    account: EnvironmentAccount
    session_id: uuid.UUID
    claims: dict[str, Any]
    amr: list[str] | None = None


class SessionCredentials:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def signed_in(self, db: AsyncSession, token: str) -> SignedIn | None:
        return await sessions.resolve(db, self.settings, token)

    async def signed_in_with_environment(
        self, db: AsyncSession, token: str, environment_id: uuid.UUID
    ) -> tuple[SignedIn, Environment | None] | None:
        found = await sessions.resolve_with_environment(db, self.settings, token, environment_id)
        return None if found is None else ((found[0], found[1]), found[2])

    async def environment(
        self, db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID
    ) -> Environment | None:
        return await environments.find(db, tenant_id, environment_id)

    async def automation(self, db: AsyncSession, token: str) -> ClientActor | None:
        return await client_grants.automation_actor(db, token)

    async def session_view(
        self, conn: AsyncConnection, token: str, account_type: AccountType, context_id: uuid.UUID
    ) -> bytes | None:
        return await sessions.current_view(conn, self.settings, token, account_type, context_id)

    async def caller(self, db: AsyncSession, environment: Environment, token: str) -> Caller | None:
        """An end user of `environment` by an access token (a JWT: verified, and its session still live) or by
        a session token; None when neither stands."""
        if token.count(".") == 2:
            claims = await tokens.verify_access_token(db, self.settings, environment, token)
            account = await end_users.enabled(db, environment.id, uuid.UUID(claims["sub"]))
            session_id = uuid.UUID(claims["sid"])
            live = await sessions.is_live(db, self.settings, session_id)
            amr = claims.get("amr")
            return Caller(account, session_id, claims, amr) if account is not None and live else None
        found = await self.signed_in(db, token)
        if found is None or not end_user_of(found[1], environment.id):
            return None
        return Caller(found[1], found[0].id, {}, found[0].amr)
