"""A failed sign-in's identifier that named no account is no longer kept in its audit event (it may be a password
typed in the wrong field): the events recorded before lose it too, keeping its kind. Going down restores nothing:
what was removed is gone.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE audit_event SET details = details - 'identifier' "
            "WHERE action = 'login.failed' AND target_id IS NULL AND details -> 'identifier' IS NOT NULL"
        )
    else:
        op.execute(
            "UPDATE audit_event SET details = json_remove(details, '$.identifier') "
            "WHERE action = 'login.failed' AND target_id IS NULL AND json_type(details, '$.identifier') IS NOT NULL"
        )


def downgrade() -> None:
    pass
