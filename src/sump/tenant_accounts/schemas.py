from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from sump.accounts.schemas import IdentityView
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.kit.identifiers import Email, NewUsername, Phone, Username
from sump.kit.schemas import HttpUrl, NewPassword, Password, PersonName, RequestModel, omit_null


class RoleGrant(RequestModel):
    """The original's role element. The target is always the tenant in the path."""

    role: TenantRole
    target: Literal["tenant"] = "tenant"
    target_id: uuid.UUID


class AccountCreate(RequestModel):
    email: Email
    name: PersonName
    username: NewUsername
    phone: Phone | None = None
    avatar_url: HttpUrl | None = None
    roles: Annotated[list[RoleGrant], Field(min_length=1, max_length=1)] | None = None
    password: NewPassword | None = Field(default=None, description="Optional; without one, set it by password reset.")


class AccountUpdate(RequestModel):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # documents `_not_empty`

    name: PersonName | None = Field(default=None, json_schema_extra=omit_null)  # may be left out, never null
    avatar_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> AccountUpdate:
        if not self.model_fields_set:
            raise ValueError("Give at least one field to change")
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


REAUTHENTICATION = (
    "The signed-in account's current password: required to change its own identifier (403 "
    "`current_password_required` without it, 403 `wrong_password` when wrong, 429 `too_many_attempts` while the "
    "sign-in lockout holds); not needed, and not read, when changing an account one manages."
)


class IdentifierChange(RequestModel):
    current_password: Password | None = Field(default=None, description=REAUTHENTICATION)


class EmailChange(IdentifierChange):
    email: Email


class PhoneChange(IdentifierChange):
    phone: Phone


class UsernameChange(IdentifierChange):
    username: NewUsername


class RoleChange(RequestModel):
    role: TenantRole


class Identification(RequestModel):
    """One or more identifiers; every one given must match the same account."""

    email: Email | None = None
    phone: Phone | None = None
    username: Username | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Identification:
        if self.email is None and self.phone is None and self.username is None:
            raise ValueError("Must provide email, phone, or username")
        return self


class AccountView(IdentityView):
    role: TenantRole
    roles: list[RoleGrant]

    @classmethod
    def of(cls, account: TenantAccount) -> AccountView:
        grant = RoleGrant.model_validate({"role": account.role, "targetId": account.tenant_id})
        return cls(**cls.fields_of(account), role=account.role, roles=[grant])


class InvitationCreate(RequestModel):
    """Who to invite, by email, and the role they get on accepting (admins invite users only)."""

    email: Email
    role: TenantRole = TenantRole.USER


class AcceptInvitation(RequestModel):
    """The invitation's token (from the emailed link) and the new account's name, username and password; its
    email is the invited address."""

    token: Password
    name: PersonName
    username: NewUsername
    password: NewPassword
    phone: Phone | None = None
