"""A passkey's credential id gets a column of its own (it was only inside `factor.data`), unique within its pool:
a tenant's accounts, or one environment's end users. The check before a registration could not see another
registration of the same id not yet committed; the unique indexes can.

Existing passkeys get theirs from `data`. Where a pool already holds one id more than once (registered before
the check, or in the race it missed), the oldest passkey keeps it and the later copies get none, so the indexes
can be built: a passkey without it is no longer found by its id (WebAuthn §7.1 step 22 would have refused the
copy). Ids longer than WebAuthn's 1,023 bytes (kept before requests were bounded, and which no request can name)
get none either.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LENGTH = 1364  # WebAuthn's 1,023 bytes, in base64url without padding
# Each pool's index: a tenant's accounts (their rows have no environment), or one environment's end users.
INDEXES = {
    "uq_factor_tenant_id_credential_id": ("tenant_id", "environment_id IS NULL AND credential_id IS NOT NULL"),
    "uq_factor_environment_id_credential_id": ("environment_id", "credential_id IS NOT NULL"),
}
BATCH = 1000


def upgrade() -> None:
    connection = op.get_bind()
    # In place on SQLite too, as it can: nothing needs the table copied.
    op.add_column("factor", sa.Column("credential_id", sa.String(LENGTH), nullable=True))
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    factor = sa.table(
        "factor",
        sa.column("id", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("data", json),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("environment_id", sa.Uuid()),
        sa.column("credential_id", sa.String(LENGTH)),
    )
    passkeys = sa.select(
        factor.c.id, factor.c.tenant_id, factor.c.environment_id, factor.c.data["credentialId"].as_string()
    ).where(factor.c.kind == "webauthn")
    seen: set[tuple[Any, ...]] = set()
    filled: list[dict[str, Any]] = []
    for factor_id, tenant_id, environment_id, credential_id in connection.execute(passkeys.order_by(factor.c.id)):
        pool = (tenant_id, environment_id, credential_id)
        if not isinstance(credential_id, str) or len(credential_id) > LENGTH or pool in seen:
            continue
        seen.add(pool)
        filled.append({"factor_id": factor_id, "value": credential_id})
    fill = factor.update().where(factor.c.id == sa.bindparam("factor_id")).values(credential_id=sa.bindparam("value"))
    for start in range(0, len(filled), BATCH):
        connection.execute(fill, filled[start : start + BATCH])
    for name, (scope, where) in INDEXES.items():
        op.create_index(
            name,
            "factor",
            [scope, "credential_id"],
            unique=True,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="factor")
    if op.get_bind().dialect.name == "sqlite":  # in place, as the column was added
        op.execute('ALTER TABLE "factor" DROP COLUMN "credential_id"')
    else:
        op.drop_column("factor", "credential_id")
