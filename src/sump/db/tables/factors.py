"""Second factors of both account families, their recovery codes, and the short-lived challenges of a sign-in
that waits for its next step.

A factor's kind is data (`totp` today; `webauthn` slots in as another kind with its own `data` and `secret`):
nothing in the schema is specific to one kind except what `data` and `secret` hold for it. Rows are bound to
their tenant (and environment, for end users) and to one account, and cascade with it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from sump.db.base import Base, JSONType, utcnow, uuid7
from sump.db.tables.sessions import AccountType


class FactorPolicy(StrEnum):
    """Of an environment (for its end users) or a tenant (for its tenant accounts)."""

    OFF = "off"  # no factor may be enrolled (factors enrolled before still count)
    OPTIONAL = "optional"  # accounts may enrol factors; those that did are asked for one at sign-in
    REQUIRED = "required"  # an account without a factor must enrol one before its first session


class ChallengePurpose(StrEnum):
    SIGN_IN = "sign_in"  # answered with a factor by `…/login/factor`
    ENROL = "enrol"  # required policy, no factor yet: only the enrolment steps accept it
    # The token of these is a WebAuthn challenge, found again from the clientDataJSON the authenticator signed.
    PASSKEY_ENROL = "passkey_enrol"  # registering a passkey (of a signed-in account)
    PASSKEY_ASSERT = "passkey_assert"  # a passkey as a second factor or for step-up (of a known account)
    PASSKEY_LOGIN = "passkey_login"  # a passwordless sign-in (account unknown until the assertion when username-less)


def _account_type() -> Enum:
    return Enum(AccountType, native_enum=False, length=24, values_callable=lambda types: [t.value for t in types])


class _OwnedByAccount:
    """Who a row belongs to, in the shape of `session`: tenant, environment (end users only) and account."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    environment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("environment.id", ondelete="CASCADE"), index=True
    )
    account_type: Mapped[AccountType] = mapped_column(_account_type())
    account_id: Mapped[uuid.UUID]
    tenant_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenant_account.id", ondelete="CASCADE"), index=True
    )
    environment_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("environment_account.id", ondelete="CASCADE"), index=True
    )


# A passkey's credential id is one account's in its pool (WebAuthn §7.1 step 22): the column and the rows of each
# pool's unique index. A tenant's accounts' rows have no environment; other kinds than passkeys have no id.
TENANT_PASSKEYS = ("tenant_id", "environment_id IS NULL AND credential_id IS NOT NULL")
ENVIRONMENT_PASSKEYS = ("environment_id", "credential_id IS NOT NULL")
MAX_CREDENTIAL_ID_BYTES = 1023  # WebAuthn's bound on a credential id
CREDENTIAL_ID_LENGTH = -(-MAX_CREDENTIAL_ID_BYTES * 4 // 3)  # its base64url, unpadded


class Factor(_OwnedByAccount, Base):
    """One enrolled (or, until `confirmed_at`, pending) second factor. `secret` is sealed at rest (a TOTP seed,
    AES-GCM under a key derived from SUMP_SECRET_KEY, bound to the factor's id); `data` holds what a kind
    keeps in the clear (a passkey's credential id and public key); `last_step` is the last TOTP time step
    used, so a code is accepted once within its window. `credential_id` is a passkey's, as in `data`, where
    the database keeps it unique in its pool."""

    __tablename__ = "factor"
    __table_args__ = (
        Index("ix_factor_account", "account_type", "account_id"),
        *(
            Index(
                f"uq_factor_{scope}_credential_id",
                scope,
                "credential_id",
                unique=True,
                sqlite_where=text(where),
                postgresql_where=text(where),
            )
            for scope, where in (TENANT_PASSKEYS, ENVIRONMENT_PASSKEYS)
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(100))
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credential_id: Mapped[str | None] = mapped_column(String(CREDENTIAL_ID_LENGTH))
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    confirmed_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecoveryCode(_OwnedByAccount, Base):
    """A one-time code that stands in for a second factor, stored as an HMAC under a key derived from
    SUMP_SECRET_KEY and bound to its account."""

    __tablename__ = "recovery_code"
    __table_args__ = (Index("ix_recovery_code_account", "account_type", "account_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FactorChallenge(_OwnedByAccount, Base):
    """A sign-in between its steps: the SHA-256 of a random token, bound to its pool and account, for five
    minutes, deleted by the step that answers it (a conditional DELETE: one winner)."""

    __tablename__ = "factor_challenge"
    __table_args__ = (Index("ix_factor_challenge_expires_at", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    # None: a username-less passkey sign-in, until its assertion names the account.
    account_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)  # type: ignore[assignment]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    purpose: Mapped[ChallengePurpose] = mapped_column(
        Enum(ChallengePurpose, native_enum=False, length=16, values_callable=lambda kinds: [k.value for k in kinds])
    )
    methods: Mapped[list[str]] = mapped_column(JSONType, default=list)  # the amr of the steps already taken ("pwd")
    channel: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
