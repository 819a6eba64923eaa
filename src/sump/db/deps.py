"""The request's database session: one transaction per request, committed before the response is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as db:
        try:
            yield db
        except BaseException:
            await db.rollback()
            for callback in getattr(request.state, "after_rollback", []):
                await callback()
            raise
        await db.commit()


def after_rollback(request: Request, callback: Callable[[], Awaitable[None]]) -> None:
    """Runs `callback` once the request's transaction has been rolled back (it holds no locks by then)."""
    if not hasattr(request.state, "after_rollback"):
        request.state.after_rollback = []
    request.state.after_rollback.append(callback)


# scope="function": the commit runs when the handler returns, before the response leaves.
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
