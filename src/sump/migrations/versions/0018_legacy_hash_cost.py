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

# A well-formed bcrypt hash's cost (04 to 31), tested before it is read as a number (CASE keeps that order).
COST = (
    "CASE WHEN substr(password_hash, 1, 4) IN ('$2a$', '$2b$', '$2y$') AND substr(password_hash, 7, 1) = '$' "
    "AND substr(password_hash, 5, 1) BETWEEN '0' AND '3' AND substr(password_hash, 6, 1) BETWEEN '0' AND '9' "
    "AND substr(password_hash, 5, 2) BETWEEN '04' AND '31' THEN CAST(substr(password_hash, 5, 2) AS INTEGER) END"
)


def upgrade() -> None:
    for table, accounts, key in (
        ("tenant", "tenant_account", "tenant_id"),
        ("environment", "environment_account", "environment_id"),
    ):
        op.add_column(table, sa.Column("legacy_hash_cost", sa.SmallInteger(), nullable=True))
        op.execute(
            f"UPDATE {table} SET legacy_hash_cost = (SELECT max({COST}) FROM {accounts} "  # noqa: S608 (names: constants)
            f"WHERE {accounts}.{key} = {table}.id)"
        )


def downgrade() -> None:
    for table in ("environment", "tenant"):
        if op.get_bind().dialect.name == "sqlite":  # in place: a copy of the table would cascade its deletion
            op.execute(f'ALTER TABLE "{table}" DROP COLUMN "legacy_hash_cost"')
        else:
            op.drop_column(table, "legacy_hash_cost")
