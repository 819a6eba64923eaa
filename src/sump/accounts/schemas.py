from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from sump.db.identity import IdentityColumns
from sump.kit.custom_properties import CustomProperties
from sump.kit.identifiers import Email, NewUsername, Phone, Username
from sump.kit.schemas import HttpUrl, NewPassword, Password, PersonName, RequestModel, ResponseModel

IDENTIFIER_KINDS = ("email", "phone", "username")


class Identifier(RequestModel):
    """One identifier; when several are given, email is used, then phone, then username."""

    model_config = ConfigDict(  # documents the rule of `_identifier` below: at least one of them, not null
        json_schema_extra={
            "anyOf": [{"required": [kind], "properties": {kind: {"type": "string"}}} for kind in IDENTIFIER_KINDS]
        }
    )

    email: Email | None = None
    phone: Phone | None = None
    username: Username | None = None

    @model_validator(mode="after")
    def _identifier(self) -> Identifier:
        if self.email is None and self.phone is None and self.username is None:
            raise ValueError("Must provide email, phone, or username")
        return self

    def chosen(self) -> tuple[str, str]:
        """(kind, normalised value) of the identifier that counts."""
        for kind in ("email", "phone", "username"):
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        raise AssertionError("validated above")


class Login(Identifier):
    password: Password


class ForgotPassword(Identifier):
    pass


class MagicLinkRequest(Identifier):
    """The identifier of the account to email a sign-in link to."""


class ResetPassword(RequestModel):
    token: Password
    new_password: NewPassword


class ChangePassword(RequestModel):
    current_password: Password
    new_password: NewPassword


class Signup(RequestModel):
    name: PersonName
    email: Email
    username: NewUsername
    password: NewPassword
    phone: Phone | None = None
    avatar_url: HttpUrl | None = None
    custom_properties: CustomProperties | None = None


class Message(ResponseModel):
    message: str


class ResetDone(ResponseModel):
    success: bool
    message: str


class IdentityView(ResponseModel):
    """What both account families show of an account: identifiers, profile, state. Never a password hash."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    username: str
    email: str
    phone: str | None
    avatar_url: str | None
    email_verified: bool
    phone_verified: bool
    disabled: bool
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def fields_of(account: IdentityColumns) -> dict[str, Any]:
        return {name: getattr(account, name) for name in IdentityView.model_fields}


LinkToken = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256),
    Field(description="The token of the emailed link (its `token` query parameter)."),
]


class FollowLink(RequestModel):
    """An emailed link's token, posted by the page the link opens."""

    token: LinkToken


class SignedUpUnverified(ResponseModel):
    """A sign-up where sign-in needs a verified email: no session until the emailed link is followed."""

    account_id: uuid.UUID
    email_verification_required: bool
    message: str
