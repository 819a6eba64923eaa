"""Each tenant and environment keeps the shape most of its passkeys have (credential id length, transports), so
that the decoy offered for an unknown identifier looks like them; pools with passkeys get theirs here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import collections
import uuid
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = {"tenant": "tenant_account", "environment": "environment_account"}  # each pool's account type
LATEST = 200  # as `factors.repository.passkey_shape` counts them


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
            sa.select(scope, factor.c.data)
            .where(factor.c.kind == "webauthn", factor.c.confirmed_at.is_not(None))
            .where(factor.c.account_type == account_type)
            .order_by(factor.c.id.desc())
        )
        latest: dict[uuid.UUID, list[dict[str, Any]]] = collections.defaultdict(list)
        for pool_id, data in connection.execute(passkeys):
            if len(latest[pool_id]) < LATEST:
                latest[pool_id].append(data)
        for pool_id, found in latest.items():
            connection.execute(pool.update().where(pool.c.id == pool_id).values(decoy_shape=_most_common(found)))


def _most_common(found: list[dict[str, Any]]) -> dict[str, Any]:
    """The shape most of `found` (newest first) have; of shapes as common, the newest (as the application)."""
    shapes = [(_id_bytes(data["credentialId"]), tuple(data.get("transports") or ())) for data in found]
    counts = collections.Counter(shapes)
    length, transports = max(counts, key=lambda shape: (counts[shape], -shapes.index(shape)))
    return {"idBytes": length, "transports": list(transports)}


def _id_bytes(credential_id: str) -> int:
    return len(credential_id) * 3 // 4  # base64url without padding


def downgrade() -> None:
    for name in reversed(TABLES):
        if op.get_bind().dialect.name == "sqlite":  # in place, for the reason above
            op.execute(f'ALTER TABLE "{name}" DROP COLUMN "decoy_shape"')
        else:
            op.drop_column(name, "decoy_shape")
