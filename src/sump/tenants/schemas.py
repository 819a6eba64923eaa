from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from sump.db.tables.factors import FactorPolicy
from sump.environments.schemas import EnvironmentView
from sump.kit.custom_properties import CustomProperties
from sump.kit.schemas import ChangeModel, ContainerName, Omittable, RequestModel, ResponseModel


class TenantFields(RequestModel):
    name: ContainerName
    custom_properties: CustomProperties | None = None


TENANT_FACTOR_POLICY = (
    "Second factors of the tenant's accounts: `off` (none may be enrolled; factors enrolled before still "
    "count), `optional` (accounts may enrol; those that did are asked for one at sign-in) or `required` (a "
    "sign-in of an account without a factor answers a challenge with `enrol: true` that only enrolment accepts)."
)


class TenantSettings(RequestModel):
    """Rules for the tenant's own accounts."""

    factor_policy: FactorPolicy = Field(default=FactorPolicy.OPTIONAL, description=TENANT_FACTOR_POLICY)


class TenantSettingsChange(ChangeModel):
    """Settings to change; the ones left out keep their current values."""

    factor_policy: Omittable[FactorPolicy] = Field(default=None, description=TENANT_FACTOR_POLICY)


class TenantUpdate(ChangeModel):
    name: Omittable[ContainerName] = None
    settings: Omittable[TenantSettingsChange] = Field(default=None, description="Only the settings given change.")


class TenantView(ResponseModel):
    id: uuid.UUID
    name: str
    custom_properties: dict[str, Any]
    settings: TenantSettings
    created_at: datetime
    updated_at: datetime
    environments: list[EnvironmentView]
