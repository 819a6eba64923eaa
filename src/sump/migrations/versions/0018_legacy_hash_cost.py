"""A tenant or environment keeps the highest bcrypt cost among the password hashes an import brought into it, so
that every password check of the pool costs what checking one of them does: pools that already hold bcrypt hashes
are given theirs, read as Sump reads a bcrypt hash (its prefix, a cost from 4 to 31, and 53 characters of salt
and digest); a malformed one gives none.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
POOLS = (("tenant", "tenant_account", "tenant_id"), ("environment", "environment_account", "environment_id"))


def upgrade() -> None:
    connection = op.get_bind()
    for name, accounts_name, key in POOLS:
        op.add_column(name, sa.Column("legacy_hash_cost", sa.SmallInteger(), nullable=True))
        accounts = sa.table(accounts_name, sa.column(key, sa.Uuid()), sa.column("password_hash", sa.String()))
        costs: dict[object, int] = {}
        hashes = sa.select(accounts.c[key], accounts.c.password_hash).where(accounts.c.password_hash.like("$2%"))
        for pool_id, stored in connection.execute(hashes):
            found = BCRYPT_HASH.fullmatch(stored)
            if found:
                costs[pool_id] = max(costs.get(pool_id, 0), int(found.group(1)))
        pools = sa.table(name, sa.column("id", sa.Uuid()), sa.column("legacy_hash_cost", sa.SmallInteger()))
        for pool_id, cost in costs.items():
            connection.execute(pools.update().where(pools.c.id == pool_id).values(legacy_hash_cost=cost))


def downgrade() -> None:
    for name, _, _ in reversed(POOLS):
        if op.get_bind().dialect.name == "sqlite":  # in place: a copy of the table would cascade its deletion
            op.execute(f'ALTER TABLE "{name}" DROP COLUMN "legacy_hash_cost"')
        else:
            op.drop_column(name, "legacy_hash_cost")
