from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, model_validator

from sump.environments.schemas import EnvironmentCreate, EnvironmentView
from sump.kit.custom_properties import CustomProperties
from sump.kit.identifiers import Email, Phone, Username
from sump.kit.schemas import ContainerName, HttpUrl, Password, PersonName, RequestModel, ResponseModel
from sump.tenant_accounts.schemas import RoleGrant


class TenantFields(RequestModel):
    name: ContainerName
    custom_properties: CustomProperties | None = None


class OwnerFields(RequestModel):
    name: PersonName
    email: Email
    username: Username
    password: Password
    phone: Phone | None = None
    avatar_url: HttpUrl | None = None
    roles: Annotated[list[RoleGrant], Field(max_length=1)] | None = Field(
        default=None, description="Accepted for compatibility and ignored: the creator is always the owner."
    )


class TenantCreate(RequestModel):
    tenant: TenantFields
    account: OwnerFields
    environment: EnvironmentCreate | None = None


class TenantUpdate(RequestModel):
    name: ContainerName | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> TenantUpdate:
        if self.name is None:
            raise ValueError("Give at least one field to change")
        return self


class NewTenantSession(ResponseModel):
    id: uuid.UUID
    account_type: str
    account_id: uuid.UUID
    context_type: str
    context_id: uuid.UUID
    expires_at: datetime


class TenantCreated(ResponseModel):
    tenant_id: uuid.UUID
    account_id: uuid.UUID
    environment_id: uuid.UUID
    session: NewTenantSession
    token: str = Field(description="The session token, for clients that send `Authorization: Bearer`.")


class TenantView(ResponseModel):
    id: uuid.UUID
    name: str
    custom_properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    environments: list[EnvironmentView]
