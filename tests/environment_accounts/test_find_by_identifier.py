"""An end user found by the email or username a person types (the console's "add member" form), in the
environment's scope only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import EnvironmentActor
from sump.db.tables.environments import Environment
from sump.environment_accounts import service
from sump.kit.errors import Problem
from tests.support import TenantWorld
from tests.tenant_accounts.test_refusals import actor_of


async def test_found_by_email_or_username_typed_loosely(world: TenantWorld, db: AsyncSession) -> None:
    end_user = await world.add_end_user(world.environment_id)
    environment = await db.get(Environment, uuid.UUID(world.environment_id))
    assert environment is not None
    owner = EnvironmentActor(environment, manager=await actor_of(db, world.owner.account_id))
    for typed in (end_user.email, f"  {end_user.email.upper()} ", end_user.username, end_user.username.upper()):
        assert str((await service.find_by_identifier(db, owner, typed)).id) == end_user.account_id, typed
    for typed in ("nobody@example.com", "nobody", "not valid!", ""):
        with pytest.raises(Problem) as missing:
            await service.find_by_identifier(db, owner, typed)
        assert (missing.value.status, missing.value.code) == (404, "account_not_found"), typed

    # Another environment of the tenant does not find it.
    elsewhere = await db.get(Environment, uuid.UUID(await world.add_environment()))
    assert elsewhere is not None
    with pytest.raises(Problem):
        await service.find_by_identifier(db, EnvironmentActor(elsewhere, manager=owner.manager), end_user.email)
