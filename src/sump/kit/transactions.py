"""The request's database session.

A request that may write (POST, PUT, PATCH, DELETE) is one transaction, committed before the response is
sent. A read (GET, HEAD) runs without a transaction: each statement stands alone, so a session check costs
one round trip instead of BEGIN, SELECT, COMMIT, and the rare write a read makes (the sliding session
expiry, at most once a minute) commits by itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from sump.db.held import HeldConnections
from sump.kit.call import Hooks
from sump.kit.email.outbox import ENQUEUED

READ_METHODS = frozenset({"GET", "HEAD"})


def _sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    state = request.app.state
    chosen: async_sessionmaker[AsyncSession] = (
        state.read_sessionmaker if request.method in READ_METHODS else state.sessionmaker
    )
    return chosen


def held_connection(request: Request) -> AbstractAsyncContextManager[AsyncConnection]:
    """One of the connections the session check holds (`db.held`): autocommit, for reads with no ORM session."""
    held: HeldConnections = request.app.state.held
    return held.connection()


def hooks(request: Request) -> Hooks:
    """What the request runs once its transaction has committed or rolled back."""
    found: Hooks | None = getattr(request.state, "hooks", None)
    if found is None:
        found = request.state.hooks = Hooks()
    return found


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    ended = hooks(request)
    async with _sessionmaker(request)() as db:
        db.info["hooks"] = ended
        try:
            yield db
        except BaseException:
            await db.rollback()
            await ended.after_rollback()
            raise
        await db.commit()
        if db.info.pop(ENQUEUED, False):
            ended.committed.append(request.app.state.outbox.wake)
    ended.after_commit()


def after_rollback(request: Request, callback: Callable[[], Awaitable[None]]) -> None:
    """Runs `callback` once the request's transaction has been rolled back (it holds no locks by then)."""
    hooks(request).rolled_back.append(callback)


# scope="function": the commit runs when the handler returns, before the response leaves.
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
