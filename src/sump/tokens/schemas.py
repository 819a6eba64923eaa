from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from sump.kit.schemas import RequestModel, ResponseModel


class RevokeRequest(RequestModel):
    refresh_token: str = Field(max_length=256)


class Tokens(ResponseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: int


class Me(ResponseModel):
    account_id: uuid.UUID
    environment_id: uuid.UUID
    session_id: uuid.UUID
    name: str
    email: str
    username: str
    organization_id: uuid.UUID | None
    roles: list[str]
    permissions: list[str]
    amr: list[str] | None = Field(
        default=None,
        description='How the session was signed in (RFC 8176): "pwd"; with a second factor also "otp" (an '
        'authenticator code) or "rc" (a recovery code), and "mfa". Null for sessions made before it was recorded.',
    )


class KeyRotated(ResponseModel):
    kid: str
