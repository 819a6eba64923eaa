"""What ends before an account's row when the account goes: every row by which a sign-in of it goes on.

A sign-in holds its rows in one order: its link, reset token or challenge, then the factor or recovery code it
used, then the account's row (which its session refers to). A change that took the account's row first (a
deletion does) would wait for such a sign-in while the sign-in waited for that row, and PostgreSQL would end one
of the two. Taken in the sign-in's order, the change waits for the sign-in, then ends what it wrote."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import links, repository


async def end_factors(db: AsyncSession, pool: Pool, account: Account) -> int:
    """Every factor of the account, its recovery codes and the challenges of its sign-ins in progress, in the
    order a sign-in holds them (a challenge, then a code or factor); the number of factors."""
    return await repository.delete_factors(db, pool, account.id)


async def end_every_way_in(db: AsyncSession, pool: Pool, account: Account) -> None:
    """Before the account is deleted: its links and reset tokens (`links.end_ways_in`), then its factors."""
    await links.end_ways_in(db, pool, account)
    await end_factors(db, pool, account)
