from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from sump.auth.schemas import IdentityView
from sump.environment_accounts.models import EnvironmentAccount
from sump.kit.custom_properties import CustomProperties
from sump.kit.identifiers import Email, Phone, Username
from sump.kit.schemas import HttpUrl, Password, PersonName, RequestModel


class EndUserCreate(RequestModel):
    name: PersonName
    email: Email
    username: Username
    phone: Phone | None = None
    avatar_url: HttpUrl | None = None
    custom_properties: CustomProperties | None = None
    password: Password | None = Field(default=None, description="Optional; without one, set it by password reset.")


class EndUserView(IdentityView):
    environment_id: uuid.UUID
    custom_properties: dict[str, Any]
    has_password: bool

    @classmethod
    def of(cls, account: EnvironmentAccount) -> EndUserView:
        return cls(
            **cls.fields_of(account),
            environment_id=account.environment_id,
            custom_properties=account.custom_properties,
            has_password=account.password_hash is not None,
        )
