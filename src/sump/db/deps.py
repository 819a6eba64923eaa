"""The request's database session: one transaction per request, committed before the response is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as db:
        try:
            yield db
        except BaseException:
            await db.rollback()
            raise
        await db.commit()


# scope="function": the commit runs when the handler returns, before the response leaves.
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
