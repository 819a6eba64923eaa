from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from sump.db.tables.sessions import AccountType, Session
from sump.kit.schemas import ResponseModel

PASSWORD_ONLY = {"pwd"}


class SessionView(ResponseModel):
    """A session as the original Sump showed it; `ipAddress` and `userAgent` are left out when unknown."""

    id: uuid.UUID
    account_type: AccountType
    account_id: uuid.UUID
    context_type: str
    context_id: uuid.UUID
    expires_at: datetime
    last_active_at: datetime
    created_at: datetime
    ip_address: str | None = None
    user_agent: str | None = None
    current: bool | None = None
    amr: list[str] | None = Field(
        default=None,
        description='How a session signed in with a second factor or a passkey was (RFC 8176): "pwd", then "otp" '
        '(an authenticator code), "rc" (a recovery code), "hwk" (a passkey bound to one device) or "swk" (a synced '
        'passkey), and "mfa"; a passkey alone (passwordless) gives ["hwk"] or ["swk"]. Left out for a '
        "password-only sign-in, whose session looks as it always did (`/me` and access tokens say `pwd` for those).",
    )
    elevated_until: datetime | None = Field(
        default=None, description="Until when a recent second factor allows sensitive changes (step-up)."
    )

    @classmethod
    def of(cls, session: Session, *, current: Session | None = None) -> SessionView:
        return cls(
            **_fields(session, session.last_active_at),
            current=(session.id == current.id) if current else None,
        )

    def body(self) -> bytes:
        """The response body as the route's `response_model` would render it: camelCase, no null values."""
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)

    @staticmethod
    def render(row: Any, *, last_active_at: datetime) -> bytes:
        """What `body()` of the view of `row` (a row of the session's own columns, already typed by the database
        layer) renders, byte for byte, written out without building the model: the session check's body (the
        model cost a third of the check's own Python work)."""
        fields = _fields(row, last_active_at)
        parts = [
            f'{{"id":"{fields["id"]}","accountType":"{fields["account_type"].value}","accountId":'
            f'"{fields["account_id"]}","contextType":"{fields["context_type"]}","contextId":"{fields["context_id"]}",'
            f'"expiresAt":"{_instant(fields["expires_at"])}","lastActiveAt":"{_instant(fields["last_active_at"])}",'
            f'"createdAt":"{_instant(fields["created_at"])}"'
        ]
        for name, key in (("ip_address", "ipAddress"), ("user_agent", "userAgent")):
            if fields[name] is not None:
                parts.append(f',"{key}":{_string(fields[name])}')
        if fields["amr"] is not None:
            parts.append(f',"amr":[{",".join(_string(method) for method in fields["amr"])}]')
        if fields["elevated_until"] is not None:
            parts.append(f',"elevatedUntil":"{_instant(fields["elevated_until"])}"')
        parts.append("}")
        return "".join(parts).encode()


_string = json.JSONEncoder(ensure_ascii=False).encode  # as the model's serializer writes a string


def _instant(value: datetime) -> str:
    """A time as the model's serializer writes it: ISO 8601, `Z` for UTC."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _fields(session: Any, last_active_at: datetime) -> dict[str, Any]:
    """`session` is a `Session` or a row with its columns."""
    return {
        "id": session.id,
        "account_type": session.account_type,
        "account_id": session.account_id,
        "context_type": "environment" if session.environment_id else "tenant",
        "context_id": session.environment_id or session.tenant_id,
        "expires_at": session.expires_at,
        "last_active_at": last_active_at,
        "created_at": session.created_at,
        "ip_address": session.ip_address or None,
        "user_agent": session.user_agent or None,
        # Only sign-ins with more than a password (a second factor, a passkey) show how: a password-only session
        # keeps the original's shape.
        "amr": list(session.amr) if session.amr and set(session.amr) - PASSWORD_ONLY else None,
        "elevated_until": session.elevated_until,
    }


class SignedIn(ResponseModel):
    """Login answer: the account, its session, and the session token for `Authorization: Bearer` clients."""

    account_id: uuid.UUID
    session: SessionView
    token: str


class Revoked(ResponseModel):
    revoked: int
