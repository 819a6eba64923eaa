"""Emailed links: single-use account tokens (email verification, email changes and their cancellation, magic
links) and invitations (tenant accounts, organization members, end users who set a password).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:43:56.774894
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "verify_email",
                "change_email",
                "cancel_email_change",
                "magic_link",
                name="linkpurpose",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=True),
        sa.Column(
            "account_type",
            sa.Enum("tenant_account", "environment_account", name="accounttype", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_account_id", sa.Uuid(), nullable=True),
        sa.Column("environment_account_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_account_id"],
            ["environment_account.id"],
            name=op.f("fk_account_token_environment_account_id_environment_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_account_token_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_account_id"],
            ["tenant_account.id"],
            name=op.f("fk_account_token_tenant_account_id_tenant_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_account_token_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_token_token_hash")),
    )
    with op.batch_alter_table("account_token", schema=None) as batch_op:
        batch_op.create_index("ix_account_token_account", ["account_type", "account_id", "purpose"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_account_token_environment_account_id"), ["environment_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_account_token_environment_id"), ["environment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_token_tenant_account_id"), ["tenant_account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_token_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "invitation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("tenant_account", "organization", "end_user", name="invitationkind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("environment_account_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("accepted_by", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_account_id"],
            ["environment_account.id"],
            name=op.f("fk_invitation_environment_account_id_environment_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_invitation_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_invitation_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_invitation_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitation_token_hash")),
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitation_environment_account_id"), ["environment_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_invitation_environment_id"), ["environment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invitation_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index("ix_invitation_tenant_id_id", ["tenant_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index("ix_invitation_tenant_id_id")
        batch_op.drop_index(batch_op.f("ix_invitation_organization_id"))
        batch_op.drop_index(batch_op.f("ix_invitation_environment_id"))
        batch_op.drop_index(batch_op.f("ix_invitation_environment_account_id"))

    op.drop_table("invitation")
    with op.batch_alter_table("account_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_token_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_account_token_tenant_account_id"))
        batch_op.drop_index(batch_op.f("ix_account_token_environment_id"))
        batch_op.drop_index(batch_op.f("ix_account_token_environment_account_id"))
        batch_op.drop_index("ix_account_token_account")

    op.drop_table("account_token")
