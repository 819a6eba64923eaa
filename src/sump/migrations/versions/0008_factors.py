"""Second factors (TOTP today, passkeys later), recovery codes, sign-in challenges; a session's `amr` and
step-up; which accounts have a factor; tenant settings (the factor policy of tenant accounts).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 06:22:41.974731
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "factor",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
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
            name=op.f("fk_factor_environment_account_id_environment_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_factor_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_account_id"],
            ["tenant_account.id"],
            name=op.f("fk_factor_tenant_account_id_tenant_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_factor_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factor")),
    )
    with op.batch_alter_table("factor", schema=None) as batch_op:
        batch_op.create_index("ix_factor_account", ["account_type", "account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_factor_environment_account_id"), ["environment_account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_factor_environment_id"), ["environment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_factor_tenant_account_id"), ["tenant_account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_factor_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "factor_challenge",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum("sign_in", "enrol", name="challengepurpose", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("methods", JSON, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
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
            name=op.f("fk_factor_challenge_environment_account_id_environment_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_factor_challenge_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_account_id"],
            ["tenant_account.id"],
            name=op.f("fk_factor_challenge_tenant_account_id_tenant_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_factor_challenge_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factor_challenge")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_factor_challenge_token_hash")),
    )
    with op.batch_alter_table("factor_challenge", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_factor_challenge_environment_account_id"), ["environment_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_factor_challenge_environment_id"), ["environment_id"], unique=False)
        batch_op.create_index("ix_factor_challenge_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_factor_challenge_tenant_account_id"), ["tenant_account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_factor_challenge_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
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
            name=op.f("fk_recovery_code_environment_account_id_environment_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_recovery_code_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_account_id"],
            ["tenant_account.id"],
            name=op.f("fk_recovery_code_tenant_account_id_tenant_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_recovery_code_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_code_code_hash")),
    )
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.create_index("ix_recovery_code_account", ["account_type", "account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_recovery_code_environment_account_id"), ["environment_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_recovery_code_environment_id"), ["environment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recovery_code_tenant_account_id"), ["tenant_account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recovery_code_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("environment_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("has_factors", sa.Boolean(), server_default="0", nullable=False))

    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amr", JSON, nullable=True))
        batch_op.add_column(sa.Column("elevated_until", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", JSON, server_default="{}", nullable=False))

    with op.batch_alter_table("tenant_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("has_factors", sa.Boolean(), server_default="0", nullable=False))


def _drop_column(table: str, column: str) -> None:
    """SQLite drops the column in place: a batch would copy the table and drop the old one, and dropping
    `tenant` or an account table cascades to every row that refers to it (sessions, end users …)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    else:
        op.drop_column(table, column)


def downgrade() -> None:
    _drop_column("tenant_account", "has_factors")
    _drop_column("tenant", "settings")
    _drop_column("session", "elevated_until")
    _drop_column("session", "amr")
    _drop_column("environment_account", "has_factors")

    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_code_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_recovery_code_tenant_account_id"))
        batch_op.drop_index(batch_op.f("ix_recovery_code_environment_id"))
        batch_op.drop_index(batch_op.f("ix_recovery_code_environment_account_id"))
        batch_op.drop_index("ix_recovery_code_account")

    op.drop_table("recovery_code")
    with op.batch_alter_table("factor_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_factor_challenge_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_factor_challenge_tenant_account_id"))
        batch_op.drop_index("ix_factor_challenge_expires_at")
        batch_op.drop_index(batch_op.f("ix_factor_challenge_environment_id"))
        batch_op.drop_index(batch_op.f("ix_factor_challenge_environment_account_id"))

    op.drop_table("factor_challenge")
    with op.batch_alter_table("factor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_factor_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_factor_tenant_account_id"))
        batch_op.drop_index(batch_op.f("ix_factor_environment_id"))
        batch_op.drop_index(batch_op.f("ix_factor_environment_account_id"))
        batch_op.drop_index("ix_factor_account")

    op.drop_table("factor")
