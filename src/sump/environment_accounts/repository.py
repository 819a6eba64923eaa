"""SQL for end users: every statement starts from its environment's scope (`sump.db.scope`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Integer, Select, String, Uuid, bindparam, or_
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db import direct
from sump.db.folded import fold
from sump.db.scope import environment
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.organizations import Membership
from sump.environment_accounts.schemas import IDENTITY_FIELDS, Filters

# Read by every refresh and every end user's request by id: built once (bound parameters), so neither the
# statement nor its cache key is made again at each call.
_BY_ID = (
    environment(bindparam("environment_id"))
    .select(EnvironmentAccount)
    .where(EnvironmentAccount.id == bindparam("account_id"))
)


async def get(db: AsyncSession, environment_id: uuid.UUID, account_id: uuid.UUID) -> EnvironmentAccount | None:
    return await db.scalar(_BY_ID, {"environment_id": environment_id, "account_id": account_id})


async def by_identifier(
    db: AsyncSession, environment_id: uuid.UUID, kind: str, value: str
) -> EnvironmentAccount | None:
    """The end user whose `kind` (email or username) is `value`, normalised as stored."""
    column = EnvironmentAccount.email if kind == "email" else EnvironmentAccount.username
    return await db.scalar(environment(environment_id).select(EnvironmentAccount).where(column == value))


_ROW = EnvironmentAccount  # one page's columns: what `EndUserView` shows, read as plain rows (no ORM objects)
VIEW_COLUMNS = (
    *(getattr(_ROW, name) for name in IDENTITY_FIELDS),
    _ROW.environment_id,
    _ROW.custom_properties,
    _ROW.metadata_,
    _ROW.password_hash.is_not(None).label("has_password"),
)


async def page(
    db: AsyncSession, environment_id: uuid.UUID, filters: Filters, after: uuid.UUID | None, limit: int
) -> Sequence[Any]:
    """One page in creation order (keyset on the environment's `(environment_id, id)` index), as rows of
    `VIEW_COLUMNS`; `q` is a prefix of email, username or name, folded as usernames and the name's search key are
    (`db.folded`)."""
    parameters: dict[str, Any] = {"environment_id": environment_id, "limit": limit}
    if filters.q:
        escaped = fold(filters.q).replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        parameters["prefix"] = escaped.replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    for name in ("disabled", "created_after", "created_before"):
        if getattr(filters, name) is not None:
            parameters[name] = getattr(filters, name)
    if after is not None:
        parameters["after"] = after
    # On the session's connection, as the driver's own statement where it can (`db.direct`): rows of columns need
    # none of the ORM's handling of a statement. Only reads list end users: no row is held to write before it.
    return await direct.rows(await db.connection(), _page_statement(frozenset(parameters)), parameters)


LIKE_ESCAPE = "/"


@functools.cache
def _page_statement(given: frozenset[str]) -> Select[Any]:
    """The page's statement for the filters `given` (by their parameters' names), built once: its cache key
    is computed once, not at each page."""
    statement = environment(bindparam("environment_id", type_=Uuid())).select(*VIEW_COLUMNS)
    if "prefix" in given:
        prefix = bindparam("prefix", type_=String())
        statement = statement.where(
            or_(
                EnvironmentAccount.email.startswith(prefix, escape=LIKE_ESCAPE),
                EnvironmentAccount.username.startswith(prefix, escape=LIKE_ESCAPE),
                EnvironmentAccount.name_folded.startswith(prefix, escape=LIKE_ESCAPE),
            )
        )
    if "disabled" in given:
        statement = statement.where(EnvironmentAccount.disabled == bindparam("disabled", type_=Boolean()))
    if "created_after" in given:
        statement = statement.where(EnvironmentAccount.created_at > bindparam("created_after"))
    if "created_before" in given:
        statement = statement.where(EnvironmentAccount.created_at < bindparam("created_before"))
    if "after" in given:
        statement = statement.where(EnvironmentAccount.id > bindparam("after", type_=Uuid()))
    return statement.order_by(EnvironmentAccount.id).limit(bindparam("limit", type_=Integer()))


async def count(db: AsyncSession, environment_id: uuid.UUID) -> int:
    statement = environment(environment_id).count(EnvironmentAccount)
    return int(await db.scalar(statement) or 0)


async def add(db: AsyncSession, account: EnvironmentAccount) -> EnvironmentAccount:  # the row carries its scope
    db.add(account)
    await db.flush()
    return account


async def remove(db: AsyncSession, account: EnvironmentAccount) -> list[uuid.UUID]:  # a row loaded through a scope
    """Deletes the account, and answers the organizations whose memberships went with it."""
    of_account = environment(account.environment_id).select(Membership.organization_id)
    organizations = list(await db.scalars(of_account.where(Membership.environment_account_id == account.id)))
    await db.delete(account)
    await db.flush()
    return organizations
