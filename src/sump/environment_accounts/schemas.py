from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from sump.environment_accounts.models import EnvironmentAccount
from sump.kit.custom_properties import CustomProperties
from sump.kit.identifiers import Email, Phone, Username
from sump.kit.schemas import HttpUrl, Password, PersonName, RequestModel, ResponseModel


class EndUserCreate(RequestModel):
    name: PersonName
    email: Email
    username: Username
    phone: Phone | None = None
    avatar_url: HttpUrl | None = None
    custom_properties: CustomProperties | None = None
    password: Password | None = Field(default=None, description="Optional; without one, set it by password reset.")


class EndUserView(ResponseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    environment_id: uuid.UUID
    name: str
    username: str
    email: str
    phone: str | None
    avatar_url: str | None
    custom_properties: dict[str, Any]
    email_verified: bool
    phone_verified: bool
    has_password: bool
    disabled: bool
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: EnvironmentAccount) -> EndUserView:
        return cls(
            id=account.id,
            tenant_id=account.tenant_id,
            environment_id=account.environment_id,
            name=account.name,
            username=account.username,
            email=account.email,
            phone=account.phone,
            avatar_url=account.avatar_url,
            custom_properties=account.custom_properties,
            email_verified=account.email_verified,
            phone_verified=account.phone_verified,
            has_password=account.password_hash is not None,
            disabled=account.disabled,
            disabled_at=account.disabled_at,
            created_at=account.created_at,
            updated_at=account.updated_at,
        )
