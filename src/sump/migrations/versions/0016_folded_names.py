"""End users and organizations get the folded form of their name (NFKC, then case-folded), which a search by a
prefix of the name compares with the prefix folded the same way: SQL `lower()` kept `ß` (so `Straße` was not found
by `strasse`), and SQLite's folds ASCII only (so `Élodie` was not found by `élodie`). Existing rows get theirs from
their name, folded in Python as the application folds it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("environment_account", "organization")
BATCH = 1000


def _fold(value: str) -> str:
    """As `sump.db.folded.fold` at this revision."""
    return unicodedata.normalize("NFKC", value).casefold()


def upgrade() -> None:
    connection = op.get_bind()
    for name in TABLES:
        # In place on SQLite too, as it can: copying an account table would cascade to the rows that refer to it.
        op.add_column(name, sa.Column("name_folded", sa.Text(), nullable=True))
        table = sa.table(name, sa.column("id", sa.Uuid()), sa.column("name", sa.String()), sa.column("name_folded"))
        fill = table.update().where(table.c.id == sa.bindparam("row_id")).values(name_folded=sa.bindparam("value"))
        rows = connection.execute(sa.select(table.c.id, table.c.name).order_by(table.c.id)).all()
        folded = [{"row_id": row_id, "value": _fold(value)} for row_id, value in rows if value is not None]
        for start in range(0, len(folded), BATCH):
            connection.execute(fill, folded[start : start + BATCH])


def downgrade() -> None:
    for name in reversed(TABLES):
        if op.get_bind().dialect.name == "sqlite":  # in place, as the column was added
            op.execute(f'ALTER TABLE "{name}" DROP COLUMN "name_folded"')
        else:
            op.drop_column(name, "name_folded")
