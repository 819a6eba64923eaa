"""Migration 0017 removes the typed identifier from the failed sign-ins recorded before it whose identifier named
no account (it may be a password typed in the wrong field), and leaves every other event as it was."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import String, Uuid, select

from sump.db import migrate
from sump.db.base import JSONType, UTCDateTime, utcnow, uuid7
from sump.db.engine import make_engine
from tests.environment_accounts.test_metadata_migration import _table
from tests.support import Database

AUDIT = _table(
    "audit_event",
    id=Uuid(),
    tenant_id=Uuid(),
    action=String(),
    outcome=String(),
    target_type=String(),
    target_id=Uuid(),
    details=JSONType,
    created_at=UTCDateTime(),
)
TYPED = {"code": "invalid_credentials", "identifier_kind": "username", "identifier": "Tr0ub4dor-and-3"}
ACCOUNT = uuid.UUID(int=7)
# (action, target, details before) → details after
EVENTS: list[tuple[str, uuid.UUID | None, dict[str, Any], dict[str, Any]]] = [
    ("login.failed", None, TYPED, {"code": "invalid_credentials", "identifier_kind": "username"}),
    ("login.failed", ACCOUNT, {**TYPED, "identifier": "ada"}, {**TYPED, "identifier": "ada"}),
    (
        "login.failed",
        None,
        {"code": "invalid_passkey", "method": "passkey"},
        {"code": "invalid_passkey", "method": "passkey"},
    ),
    ("login.succeeded", None, {"identifier": "kept"}, {"identifier": "kept"}),
]


def details(
    url: str, events: list[tuple[str, uuid.UUID | None, dict[str, Any], dict[str, Any]]] | None = None
) -> list[Any]:
    """The events' details, oldest first, after writing `events` (as 0016 knew the table) when given."""

    async def run() -> list[Any]:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                tenant = uuid7()
                for n, (action, target, before, _) in enumerate(events or [], start=1):
                    await connection.execute(
                        AUDIT.insert().values(
                            id=uuid.UUID(int=n),  # in the order of EVENTS
                            tenant_id=tenant,
                            action=action,
                            outcome="failure",
                            target_type="tenant_account" if target else None,
                            target_id=target,
                            details=before,
                            created_at=utcnow(),
                        )
                    )
                return list(await connection.scalars(select(AUDIT.c.details).order_by(AUDIT.c.id)))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.asvs("LOG-03")
def test_0017_removes_the_identifier_of_failed_sign_ins_that_named_no_account(empty_database: Database) -> None:
    url = empty_database.url
    migrate.upgrade(url, "0016")
    assert details(url, EVENTS) == [before for _, _, before, _ in EVENTS]

    migrate.upgrade(url, "0017")
    assert details(url) == [after for _, _, _, after in EVENTS]
    migrate.downgrade(url, "0016")  # nothing comes back
    assert details(url) == [after for _, _, _, after in EVENTS]
