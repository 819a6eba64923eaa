"""OAuth 2.0 and OpenID Connect: clients (of an environment, or a tenant's automation clients) and their
secrets, authorization requests waiting for their end user, authorization codes, consents, and the client and
scope of refresh tokens issued through them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:43:43.766157
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "client",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=True),
        sa.Column(
            "purpose",
            sa.Enum("application", "machine", "automation", name="clientpurpose", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "kind", sa.Enum("confidential", "public", name="clientkind", native_enum=False, length=16), nullable=False
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("redirect_uris", JSON, nullable=False),
        sa.Column("post_logout_redirect_uris", JSON, nullable=False),
        sa.Column("grant_types", JSON, nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("first_party", sa.Boolean(), nullable=False),
        sa.Column("audience", sa.String(length=512), nullable=True),
        sa.Column("permissions", JSON, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("settings", JSON, server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_client_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_client_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_client_client_id")),
    )
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.create_index("ix_client_tenant_environment", ["tenant_id", "environment_id"], unique=False)

    op.create_table(
        "authorization_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["client.id"], name=op.f("fk_authorization_request_client_pk_client"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_authorization_request_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_request")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_authorization_request_token_hash")),
    )
    with op.batch_alter_table("authorization_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authorization_request_client_pk"), ["client_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_authorization_request_environment_id"), ["environment_id"], unique=False)

    op.create_table(
        "client_secret",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["client.id"], name=op.f("fk_client_secret_client_pk_client"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_secret")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_client_secret_secret_hash")),
    )
    with op.batch_alter_table("client_secret", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_secret_client_pk"), ["client_pk"], unique=False)

    op.create_table(
        "client_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("secret_pk", sa.Uuid(), nullable=False),
        sa.Column("permissions", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["client.id"], name=op.f("fk_client_token_client_pk_client"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["secret_pk"],
            ["client_secret.id"],
            name=op.f("fk_client_token_secret_pk_client_secret"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_client_token_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_client_token_token_hash")),
    )
    with op.batch_alter_table("client_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_token_client_pk"), ["client_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_client_token_secret_pk"), ["secret_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_client_token_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["environment_account.id"],
            name=op.f("fk_consent_account_id_environment_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["client.id"], name=op.f("fk_consent_client_pk_client"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_consent_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
        sa.UniqueConstraint("account_id", "client_pk", name=op.f("uq_consent_account_id_client_pk")),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_client_pk"), ["client_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_environment_id"), ["environment_id"], unique=False)

    op.create_table(
        "authorization_code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("nonce", sa.String(length=512), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("family_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["environment_account.id"],
            name=op.f("fk_authorization_code_account_id_environment_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["client.id"], name=op.f("fk_authorization_code_client_pk_client"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environment.id"],
            name=op.f("fk_authorization_code_environment_id_environment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name=op.f("fk_authorization_code_session_id_session"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_authorization_code_code_hash")),
    )
    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authorization_code_client_pk"), ["client_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_authorization_code_environment_id"), ["environment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_authorization_code_session_id"), ["session_id"], unique=False)

    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_pk", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("scope", sa.String(length=1024), nullable=True))
        batch_op.create_index(batch_op.f("ix_refresh_token_client_pk"), ["client_pk"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_refresh_token_client_pk_client"), "client", ["client_pk"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_refresh_token_client_pk_client"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_refresh_token_client_pk"))
        batch_op.drop_column("scope")
        batch_op.drop_column("client_pk")

    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_code_session_id"))
        batch_op.drop_index(batch_op.f("ix_authorization_code_environment_id"))
        batch_op.drop_index(batch_op.f("ix_authorization_code_client_pk"))

    op.drop_table("authorization_code")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_environment_id"))
        batch_op.drop_index(batch_op.f("ix_consent_client_pk"))

    op.drop_table("consent")
    with op.batch_alter_table("client_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_token_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_client_token_secret_pk"))
        batch_op.drop_index(batch_op.f("ix_client_token_client_pk"))

    op.drop_table("client_token")
    with op.batch_alter_table("client_secret", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_secret_client_pk"))

    op.drop_table("client_secret")
    with op.batch_alter_table("authorization_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_request_environment_id"))
        batch_op.drop_index(batch_op.f("ix_authorization_request_client_pk"))

    op.drop_table("authorization_request")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_index("ix_client_tenant_environment")

    op.drop_table("client")
