"""A name's search key (`db.folded`) is written with the name on every way a row is written: an object made or
changed through the unit of work, one written by `db.inserts`, and a plain Core insert."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import insert, select

from sump.db.folded import fold
from sump.db.inserts import insert_now, insert_values
from sump.db.tables.organizations import Organization
from tests.support import TenantWorld


def test_fold_is_nfkc_then_casefold() -> None:
    assert fold("Straße") == fold("STRASSE") == "strasse"
    assert fold("E\u0301lodie") == fold("ÉLODIE") == "élodie"
    assert fold("\uff26ull") == "full"


async def test_every_way_of_writing_a_name_writes_its_key(app: FastAPI, world: TenantWorld) -> None:
    scope = {"tenant_id": uuid.UUID(world.tenant_id), "environment_id": uuid.UUID(world.environment_id)}
    tag = uuid.uuid4().hex[:6]
    async with app.state.sessionmaker() as db:
        made = Organization(name=f"Straße {tag}", **scope)
        db.add(made)
        await db.flush()
        made.name = f"Élodie {tag}"
        now = Organization(name=f"Zoe\u0301 {tag}", **scope)
        await insert_now(db, now)
        valued = await insert_values(db, Organization, {"name": f"RENÉE {tag}", **scope})
        core = uuid.uuid4()
        await db.execute(insert(Organization).values(id=core, name=f"Grüße {tag}", **scope))
        await db.commit()
    async with app.state.sessionmaker() as db:
        ids = [made.id, now.id, valued["id"], core]
        rows = await db.execute(select(Organization.id, Organization.name_folded).where(Organization.id.in_(ids)))
        keys = dict(rows.all())
    assert [keys[row_id] for row_id in ids] == [f"élodie {tag}", f"zoé {tag}", f"renée {tag}", f"grüsse {tag}"]
