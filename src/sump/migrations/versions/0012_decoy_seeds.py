"""Each tenant and environment gets its own random key for the passkey decoys it offers an unknown identifier,
in place of one derived from SUMP_SECRET_KEY (which changed every decoy at a rotation); existing rows get theirs
here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = ("tenant", "environment")
SEED_BYTES = 32


def upgrade() -> None:
    connection = op.get_bind()
    for name in TABLES:
        # Added in place with a constant default, as SQLite can: a batch would copy the table and drop the old
        # one, and dropping `tenant` or `environment` cascades to every row that refers to it.
        op.add_column(name, sa.Column("decoy_seed", sa.LargeBinary(SEED_BYTES), nullable=False, server_default=""))
        table = sa.table(name, sa.column("id", sa.Uuid()), sa.column("decoy_seed", sa.LargeBinary(SEED_BYTES)))
        ids = connection.execute(sa.select(table.c.id)).scalars().all()
        for row_id in ids:
            seed = secrets.token_bytes(SEED_BYTES)
            connection.execute(table.update().where(table.c.id == row_id).values(decoy_seed=seed))
        if connection.dialect.name != "sqlite":  # new rows get theirs from the application; SQLite keeps it
            op.alter_column(name, "decoy_seed", server_default=None)


def downgrade() -> None:
    for name in reversed(TABLES):
        if op.get_bind().dialect.name == "sqlite":  # in place, for the reason above
            op.execute(f'ALTER TABLE "{name}" DROP COLUMN "decoy_seed"')
        else:
            op.drop_column(name, "decoy_seed")
