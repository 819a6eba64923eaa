"""Passkeys: a challenge of a username-less passkey sign-in names no account until the assertion does, so
`factor_challenge.account_id` may be null. (Passkeys themselves are `factor` rows of kind `webauthn`, their
public data in `factor.data`; an environment's relying party is in its settings.)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("factor_challenge", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM factor_challenge WHERE account_id IS NULL")  # username-less sign-ins in flight
    with op.batch_alter_table("factor_challenge", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Uuid(), nullable=False)
