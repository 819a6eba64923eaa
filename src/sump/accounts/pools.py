"""The pool named by a sign-in route's path: a tenant's accounts, or an environment's end users.

Each worker keeps a pool it read for `POOL_FRESHNESS` seconds (`POOLS`), so a sign-in does not read its
tenant or environment row. Any change of that row made through the ORM (settings, deletion; by the API, the
console or anything else) forgets the pool in this worker at once, when it is flushed and again when its
transaction ends; other workers and nodes see the change within `POOL_FRESHNESS` seconds.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, object_session
from sqlalchemy.orm import Session as OrmSession

from sump.access.pools import Pool
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import AccountType
from sump.db.tables.tenants import Tenant
from sump.environments import service as environments
from sump.kit.errors import not_found
from sump.tenants import service as tenants

POOL_FRESHNESS = 10.0
_FORGET = "sump_forget_pools"  # Session.info: the pools a transaction changed, forgotten again at its commit
_FORGET_ENVIRONMENTS = "sump_forget_environment_pools"  # Session.info: a tenant was deleted


class KeptPools:
    """Pools by (account type, tenant or environment id), each with the time it was read."""

    def __init__(self) -> None:
        self._kept: dict[tuple[AccountType, uuid.UUID], tuple[Pool, float]] = {}
        self.generation = 0  # counts forgets: a read that began before one is not kept

    def get(self, key: tuple[AccountType, uuid.UUID]) -> Pool | None:
        found = self._kept.get(key)
        if found is None or time.monotonic() - found[1] >= POOL_FRESHNESS:
            return None
        return found[0]

    def keep(self, key: tuple[AccountType, uuid.UUID], pool: Pool, generation: int, read_at: float) -> None:
        if generation == self.generation:
            self._kept[key] = (pool, read_at)

    def forget(self, key: tuple[AccountType, uuid.UUID]) -> None:
        self.generation += 1
        self._kept.pop(key, None)

    def forget_environments(self) -> None:
        """Every environment's pool: a tenant's deletion takes its environments with it by cascade, in the
        database, where the ORM does not see them go."""
        self.generation += 1
        self._kept = {key: kept for key, kept in self._kept.items() if key[0] is not AccountType.ENVIRONMENT_ACCOUNT}


POOLS = KeptPools()


async def load_pool(db: AsyncSession, account_type: AccountType, context_id: uuid.UUID) -> Pool:
    """The pool of a tenant or environment id from the path; 404 when it does not exist."""
    key = (account_type, context_id)
    kept = POOLS.get(key)
    if kept is not None:
        return kept
    generation, read_at = POOLS.generation, time.monotonic()
    if account_type is AccountType.TENANT_ACCOUNT:
        found = await tenants.sign_in_pool(db, context_id)
        if found is None:
            raise not_found("tenant")
        pool = found
    else:
        pool = environments.pool(await environments.named(db, context_id))
    POOLS.keep(key, pool, generation, read_at)
    return pool


def _changed(key: tuple[AccountType, uuid.UUID], target: Any) -> None:
    POOLS.forget(key)
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_FORGET, set()).add(key)


def _tenant_changed(_mapper: Mapper[Any], _connection: Any, target: Tenant) -> None:
    _changed((AccountType.TENANT_ACCOUNT, target.id), target)


def _tenant_deleted(mapper: Mapper[Any], connection: Any, target: Tenant) -> None:
    _tenant_changed(mapper, connection, target)
    POOLS.forget_environments()
    session = object_session(target)
    if session is not None:
        session.info[_FORGET_ENVIRONMENTS] = True


def _environment_changed(_mapper: Mapper[Any], _connection: Any, target: Environment) -> None:
    _changed((AccountType.ENVIRONMENT_ACCOUNT, target.id), target)


def _ended(session: OrmSession) -> None:
    """A read between the change's flush and the end of its transaction saw a row that is not the one that
    stands now (the old one, or, in the same transaction, one that a rollback undid): forget again."""
    for key in session.info.pop(_FORGET, ()):
        POOLS.forget(key)
    if session.info.pop(_FORGET_ENVIRONMENTS, False):
        POOLS.forget_environments()


event.listen(Tenant, "after_update", _tenant_changed)
event.listen(Tenant, "after_delete", _tenant_deleted)
for _event in ("after_update", "after_delete"):
    event.listen(Environment, _event, _environment_changed)
event.listen(OrmSession, "after_commit", _ended)
event.listen(OrmSession, "after_rollback", _ended)
