"""`sump secret rotate` beside servers that write the same rows: each update is a compare-and-set on the sealed
value the rotation read, so what another writer put there between the rotation's read and its write stays.

On PostgreSQL only: SQLite lets one writer in at a time, and the rotation holds that place from its first update
to its commit, so there no other writer can come between them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.util import await_only

from sump.db.engine import make_engine
from sump.db.tables.factors import Factor
from sump.db.tables.tokens import SigningKey
from sump.factors import totp
from sump.kit import sealing
from sump.secret_rotation import rotate_secret
from sump.tokens import keys
from tests.factors.conftest import Clock, end_user_with_totp
from tests.secret_rotation.conftest import NEW, http, served
from tests.secret_rotation.test_rotation import OLD, counts, second_step
from tests.support import Database, make_settings, new_tenant
from tests.tokens.test_tokens import password_grant


@pytest.mark.parametrize("own_database", ["postgresql"], indirect=True)
async def test_what_a_server_wrote_while_a_rotation_ran_stays_as_it_wrote_it(
    own_database: Database, clock: Clock
) -> None:
    """An end user who enrols a new authenticator while the rotation runs keeps it: the rotation does not put the
    old seed back, re-sealed (the old authenticator working again, the new one not). A signing key that another
    rotation re-sealed meanwhile keeps that run's value, and neither is counted as this run's."""
    async with served(own_database, OLD) as before, http(before) as api:
        world = await new_tenant(api)
        _, enrolled = await end_user_with_totp(api, world, clock)
        await password_grant(api, world, await world.add_end_user(world.environment_id))
        async with before.state.sessionmaker() as db:
            kid, key_sealed = (await db.execute(select(SigningKey.kid, SigningKey.private_key).limit(1))).one()
            key_count, _ = await counts(db)
    factor_id = uuid.UUID(enrolled.factor_id)
    new_seed = totp.new_seed()
    seed_written = sealing.seal(NEW, sealing.FACTOR_SECRETS, new_seed.encode(), str(factor_id).encode())
    key_written = keys.resealed(NEW, [OLD], kid, key_sealed)
    assert key_written is not None
    meanwhile = make_engine(own_database.url)
    pending: dict[str, tuple[Any, Any, dict[str, bytes]]] = {
        "UPDATE signing_key": (SigningKey, SigningKey.kid == kid, {"private_key": key_written}),
        "UPDATE factor": (Factor, Factor.id == factor_id, {"secret": seed_written}),
    }

    async def write(table: Any, where: Any, values: dict[str, bytes]) -> None:
        async with meanwhile.begin() as conn:
            await conn.execute(update(table).where(where).values(**values))

    def another_writer_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        """Before the rotation's first update of a table, another writer's update of one of its rows commits."""
        for prefix in list(pending):
            if statement.startswith(prefix):
                await_only(write(*pending.pop(prefix)))

    event.listen(Engine, "before_cursor_execute", another_writer_first)
    try:
        settings = make_settings(own_database, secret_key=NEW, previous_secret_keys=(OLD,))
        rotation = await rotate_secret(settings)
    finally:
        event.remove(Engine, "before_cursor_execute", another_writer_first)
        await meanwhile.dispose()
    assert pending == {}, "each table's update met another writer"
    assert rotation.complete
    assert (rotation.signing_keys, rotation.totp_seeds) == (key_count - 1, 0)

    async with served(own_database, NEW, OLD) as after, http(after) as client:
        async with after.state.sessionmaker() as db:
            assert await db.scalar(select(Factor.secret).where(Factor.id == factor_id)) == seed_written
            assert await db.scalar(select(SigningKey.private_key).where(SigningKey.kid == kid)) == key_written
        old = await second_step(client, enrolled, clock.code(enrolled.seed))
        assert (old.status_code, old.json()["code"]) == (401, "invalid_code")
        new = await second_step(client, enrolled, clock.code(new_seed))
        assert new.status_code == 200, new.text
