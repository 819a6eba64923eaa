"""A tenant or environment keeps the highest bcrypt cost among the password hashes an import brought into it, so
that every password check of the pool costs what checking one of them does: pools that already hold bcrypt hashes
are given theirs.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BCRYPT = "(password_hash LIKE '$2a$%' OR password_hash LIKE '$2b$%' OR password_hash LIKE '$2y$%')"
COST = "CAST(substr(password_hash, 5, 2) AS INTEGER)"


def upgrade() -> None:
    for table, accounts, key in (
        ("tenant", "tenant_account", "tenant_id"),
        ("environment", "environment_account", "environment_id"),
    ):
        op.add_column(table, sa.Column("legacy_hash_cost", sa.SmallInteger(), nullable=True))
        op.execute(
            f"UPDATE {table} SET legacy_hash_cost = (SELECT max({COST}) FROM {accounts} "  # noqa: S608 (names: constants)
            f"WHERE {accounts}.{key} = {table}.id AND {BCRYPT})"
        )


def downgrade() -> None:
    for table in ("environment", "tenant"):
        if op.get_bind().dialect.name == "sqlite":  # in place: a copy of the table would cascade its deletion
            op.execute(f'ALTER TABLE "{table}" DROP COLUMN "legacy_hash_cost"')
        else:
            op.drop_column(table, "legacy_hash_cost")
