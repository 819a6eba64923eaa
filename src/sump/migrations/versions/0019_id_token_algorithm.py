"""Each application names the algorithm its ID tokens are signed with (OpenID Connect Registration's
`id_token_signed_response_alg`): ES256 or RS256. Applications registered before keep ES256, the algorithm their
relying parties have been verifying; machine and automation clients get no ID tokens and name none.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("client", sa.Column("id_token_signed_response_alg", sa.String(8), nullable=True))
    clients = sa.table("client", sa.column("purpose", sa.String()), sa.column("id_token_signed_response_alg"))
    op.execute(clients.update().where(clients.c.purpose == "application").values(id_token_signed_response_alg="ES256"))  # noqa: S106


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # in place: a copy of the table would cascade its deletion
        op.execute('ALTER TABLE "client" DROP COLUMN "id_token_signed_response_alg"')
    else:
        op.drop_column("client", "id_token_signed_response_alg")
