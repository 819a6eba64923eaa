from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from sump.db.tables.factors import FactorPolicy
from sump.environments.schemas import EnvironmentView
from sump.kit.custom_properties import CustomProperties
from sump.kit.schemas import ContainerName, RequestModel, ResponseModel, omit_null


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


class TenantSettingsChange(RequestModel):
    """Settings to change; the ones left out keep their current values."""

    factor_policy: FactorPolicy | None = Field(
        default=None, description=TENANT_FACTOR_POLICY, json_schema_extra=omit_null
    )

    @model_validator(mode="after")
    def _given(self) -> TenantSettingsChange:
        if self.factor_policy is None:
            raise ValueError("Give at least one setting to change")
        return self


class TenantUpdate(RequestModel):
    name: ContainerName | None = Field(default=None, json_schema_extra=omit_null)  # may be left out, never null
    settings: TenantSettingsChange | None = Field(
        default=None, json_schema_extra=omit_null, description="Only the settings given change."
    )

    @model_validator(mode="after")
    def _not_empty(self) -> TenantUpdate:
        if self.name is None and self.settings is None:
            raise ValueError("Give at least one field to change")
        return self


class TenantView(ResponseModel):
    id: uuid.UUID
    name: str
    custom_properties: dict[str, Any]
    settings: TenantSettings
    created_at: datetime
    updated_at: datetime
    environments: list[EnvironmentView]
