from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, model_validator

from sump.accounts.schemas import Login
from sump.kit.identifiers import Email, Phone, Username
from sump.kit.schemas import Password, RequestModel, ResponseModel


class TokenRequest(RequestModel):
    """`password`: identifier and password; `session`: the caller's current session; `refresh_token`: rotate."""

    grant_type: Literal["password", "session", "refresh_token"]
    email: Email | None = None
    phone: Phone | None = None
    username: Username | None = None
    password: Password | None = None
    refresh_token: str | None = Field(default=None, max_length=256)
    organization_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _grant_fields(self) -> TokenRequest:
        if self.grant_type == "password" and (
            self.password is None or (self.email is None and self.phone is None and self.username is None)
        ):
            raise ValueError("The password grant needs an identifier and a password")
        if self.grant_type == "refresh_token" and not self.refresh_token:
            raise ValueError("The refresh_token grant needs refreshToken")
        return self

    def login(self) -> Login:
        return Login.model_validate(
            {"email": self.email, "phone": self.phone, "username": self.username, "password": self.password}
        )


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


class KeyRotated(ResponseModel):
    kid: str
