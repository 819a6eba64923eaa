"""End users, password reset tokens, the email outbox, environment settings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:00:48.180274
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind", sa.Enum("email", "password_reset", name="outboxkind", native_enum=False, length=24), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "processing",
                "sent",
                "abandoned",
                "dropped",
                name="outboxstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
    )
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_email_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "environment_account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("custom_properties", JSON, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("phone_verified", sa.Boolean(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("avatar_url", sa.String(length=2048), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_environment_account_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_environment_account_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environment_account")),
        sa.UniqueConstraint("environment_id", "email", name=op.f("uq_environment_account_environment_id_email")),
        sa.UniqueConstraint("environment_id", "phone", name=op.f("uq_environment_account_environment_id_phone")),
        sa.UniqueConstraint("environment_id", "username", name=op.f("uq_environment_account_environment_id_username")),
    )
    with op.batch_alter_table("environment_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_environment_account_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_environment_account_environment_id_id", ["environment_id", "id"], unique=False)

    op.create_table(
        "password_reset_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "account_type",
            sa.Enum("tenant_account", "environment_account", name="accounttype", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_account_id", sa.Uuid(), nullable=True),
        sa.Column("environment_account_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_account_id"],
            ["environment_account.id"],
            name=op.f("fk_password_reset_token_environment_account_id_environment_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_password_reset_token_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_account_id"],
            ["tenant_account.id"],
            name=op.f("fk_password_reset_token_tenant_account_id_tenant_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_password_reset_token_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_token_token_hash")),
    )
    with op.batch_alter_table("password_reset_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_reset_token_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_password_reset_token_environment_account_id"), ["environment_account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_password_reset_token_tenant_account_id"), ["tenant_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_password_reset_token_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("environment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", JSON, nullable=False, server_default="{}"))

    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("environment_account_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_session_environment_account_id"), ["environment_account_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_session_environment_account_id_environment_account"),
            "environment_account",
            ["environment_account_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("tenant_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_account", schema=None) as batch_op:
        batch_op.drop_column("password_changed_at")

    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_session_environment_account_id_environment_account"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_session_environment_account_id"))
        batch_op.drop_column("environment_account_id")

    with op.batch_alter_table("environment", schema=None) as batch_op:
        batch_op.drop_column("settings")

    with op.batch_alter_table("password_reset_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_token_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_password_reset_token_tenant_account_id"))
        batch_op.drop_index(batch_op.f("ix_password_reset_token_environment_account_id"))
        batch_op.drop_index(batch_op.f("ix_password_reset_token_account_id"))

    op.drop_table("password_reset_token")
    with op.batch_alter_table("environment_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_environment_account_tenant_id"))
        batch_op.drop_index("ix_environment_account_environment_id_id")

    op.drop_table("environment_account")
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_email_outbox_due")

    op.drop_table("email_outbox")
