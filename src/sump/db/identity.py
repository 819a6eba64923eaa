"""Columns shared by both account families (tenant accounts and environment accounts)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, false
from sqlalchemy.orm import Mapped, mapped_column


class IdentityColumns:
    """Sign-in identifiers (stored normalised), profile, password hash and the disabled flag."""

    email: Mapped[str] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(default=False)
    phone: Mapped[str | None] = mapped_column(String(16))
    phone_verified: Mapped[bool] = mapped_column(default=False)
    username: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None]
    disabled: Mapped[bool] = mapped_column(default=False)
    disabled_at: Mapped[datetime | None]
    # Whether the account has a confirmed second factor (kept by `sump.factors`): sign-in and step-up read it
    # from the account row, so accounts without factors cost no extra query.
    has_factors: Mapped[bool] = mapped_column(default=False, server_default=false())
