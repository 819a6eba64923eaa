"""An index of the audit log by organization: any end user who creates an organization administers it and may
read its events, which were found by walking the whole environment's events. Only events of an organization are
in it (most events have none).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

NAME = "ix_audit_event_organization_id_id"
WHERE = "organization_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        NAME,
        "audit_event",
        ["organization_id", "id"],
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="audit_event")
