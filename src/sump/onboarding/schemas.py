"""`POST /tenants`: the tenant, its owner and first environment in; the owner's session out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from sump.environments.schemas import EnvironmentCreate
from sump.kit.identifiers import Email, NewUsername, Phone
from sump.kit.schemas import HttpUrl, NewPassword, PersonName, RequestModel, ResponseModel
from sump.tenant_accounts.schemas import RoleGrant
from sump.tenants.schemas import TenantFields


class OwnerFields(RequestModel):
    name: PersonName
    email: Email
    username: NewUsername
    password: NewPassword
    phone: Phone | None = None
    avatar_url: HttpUrl | None = None
    roles: Annotated[list[RoleGrant], Field(max_length=1)] | None = Field(
        default=None, description="Accepted for compatibility and ignored: the creator is always the owner."
    )


class TenantCreate(RequestModel):
    tenant: TenantFields
    account: OwnerFields
    environment: EnvironmentCreate | None = None


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
