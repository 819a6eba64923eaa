"""End users' metadata: a JSON object only the tenant's owners and admins write; existing end users get `{}`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("environment_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metadata", JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("environment_account", schema=None) as batch_op:
        batch_op.drop_column("metadata")
