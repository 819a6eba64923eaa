"""Each tenant and environment keeps the shape of its passkey decoys (credential id length, transports), so that
the decoy offered for an unknown identifier looks like the pool's passkeys. The application sets it once, from a
pool's first passkey of a common shape; pools that have passkeys already get the common shape most of their
newest 200 have.

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
# As `factors.passkeys` tells a common authenticator's shape, frozen here.
COMMON_ID_BYTES = range(16, 65)
COMMON_TRANSPORTS = frozenset({"ble", "hybrid", "internal", "nfc", "usb"})


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


def _most_common(found: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The common shape most of `found` (newest first) have; of shapes as common, the newest."""
    shapes = [shape for shape in map(_shape, found) if shape is not None]
    if not shapes:
        return None
    counts = collections.Counter(shapes)
    length, transports = max(counts, key=lambda shape: (counts[shape], -shapes.index(shape)))
    return {"idBytes": length, "transports": list(transports)}


def _shape(data: dict[str, Any]) -> tuple[int, tuple[str, ...]] | None:
    """A passkey's id length (base64url, unpadded) and transports (once each, sorted), if a common shape."""
    length = len(data["credentialId"]) * 3 // 4
    transports = tuple(sorted({t for t in data.get("transports") or [] if isinstance(t, str)}))
    if length not in COMMON_ID_BYTES or not transports or not COMMON_TRANSPORTS.issuperset(transports):
        return None
    return length, transports


def downgrade() -> None:
    for name in reversed(TABLES):
        if op.get_bind().dialect.name == "sqlite":  # in place, for the reason above
            op.execute(f'ALTER TABLE "{name}" DROP COLUMN "decoy_shape"')
        else:
            op.drop_column(name, "decoy_shape")
