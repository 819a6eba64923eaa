"""What ends before an account's row when the account goes, or when a proven address takes it back: every row
by which a sign-in of it goes on.

A sign-in holds its rows in one order: its link, reset token or challenge, then the factor or recovery code it
answered with, then the account's row (which its session refers to). A change that took the account's row first
(a deletion does) would wait for such a sign-in while the sign-in waited for that row, and PostgreSQL would end one
of the two. Taken in the sign-in's order, the change waits for the sign-in, then ends what it wrote."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import links, repository
from sump.db.tables.links import LinkPurpose
from sump.sessions import service as sessions


async def end_sign_ins_in_progress(db: AsyncSession, pool: Pool, account: Account) -> None:
    """Before the account is disabled: the links that sign it in, set its password or change its address, its
    reset tokens (`links.end_ways_in`), then the challenges of its sign-ins in progress."""
    await links.end_ways_in(db, pool, account)
    await sessions.end_sign_ins(db, account)


async def end_factors(db: AsyncSession, pool: Pool, account: Account) -> int:
    """Every factor of the account with its recovery codes, after the challenges of its sign-ins in progress;
    the number of factors."""
    await sessions.end_sign_ins(db, account)
    return await repository.delete_factors(db, pool, account.id)


async def end_every_way_in(db: AsyncSession, pool: Pool, account: Account) -> None:
    """Before the account is deleted: its links of every purpose and its reset tokens, then its factors."""
    await links.revoke(db, pool, account, *LinkPurpose)
    await repository.delete_reset_tokens(db, pool, account.id)
    await end_factors(db, pool, account)
