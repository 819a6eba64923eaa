"""Each tenant and environment keeps the shape of its passkey decoys (credential id length, transports), so that
the decoy offered for an unknown identifier looks like the pool's passkeys. The application sets it once, from a
pool's first passkey; pools that have passkeys already get the shape most of their newest 200 have.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = {"tenant": "tenant_account", "environment": "environment_account"}  # each pool's account type
NEWEST = 200
KNOWN_TRANSPORTS = {"ble", "cable", "hybrid", "internal", "nfc", "smart-card", "usb"}


def upgrade() -> None:
    connection = op.get_bind()
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    factor = sa.table(
        "factor",
        sa.column("id", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("data", json),
        sa.column("confirmed_at", sa.DateTime()),
        sa.column("account_type", sa.String()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("environment_id", sa.Uuid()),
    )
    for name, account_type in TABLES.items():
        # Added in place (nullable), as SQLite can: a batch would copy the table and drop the old one, and
        # dropping `tenant` or `environment` cascades to every row that refers to it.
        op.add_column(name, sa.Column("decoy_shape", json, nullable=True))
        pool = sa.table(name, sa.column("id", sa.Uuid()), sa.column("decoy_shape", json))
        scope = factor.c.environment_id if name == "environment" else factor.c.tenant_id
        passkeys = (
            factor.c.kind == "webauthn",
            factor.c.confirmed_at.is_not(None),
            factor.c.account_type == account_type,
        )
        for pool_id in connection.execute(sa.select(scope).where(*passkeys).distinct()).scalars().all():
            newest = sa.select(factor.c.data).where(*passkeys, scope == pool_id).order_by(factor.c.id.desc())
            found = connection.execute(newest.limit(NEWEST)).scalars().all()
            connection.execute(pool.update().where(pool.c.id == pool_id).values(decoy_shape=_most_common(found)))


def _most_common(found: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The shape most of `found` (newest first) have; of shapes as common, the newest."""
    shapes = [_shape(data) for data in found]
    counts = collections.Counter(shapes)
    length, transports = max(counts, key=lambda shape: (counts[shape], -shapes.index(shape)))
    return {"idBytes": length, "transports": list(transports)}


def _shape(data: dict[str, Any]) -> tuple[int, tuple[str, ...]]:
    """As the application shapes a passkey: its id's length (base64url, unpadded), its known transports sorted."""
    transports = data.get("transports") or []
    return len(data["credentialId"]) * 3 // 4, tuple(sorted({t for t in transports if t in KNOWN_TRANSPORTS}))


def downgrade() -> None:
    for name in reversed(TABLES):
        if op.get_bind().dialect.name == "sqlite":  # in place, for the reason above
            op.execute(f'ALTER TABLE "{name}" DROP COLUMN "decoy_shape"')
        else:
            op.drop_column(name, "decoy_shape")
