from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from sump.environments.schemas import EnvironmentView
from sump.kit.custom_properties import CustomProperties
from sump.kit.schemas import ContainerName, RequestModel, ResponseModel, omit_null


class TenantFields(RequestModel):
    name: ContainerName
    custom_properties: CustomProperties | None = None


class TenantUpdate(RequestModel):
    name: ContainerName | None = Field(default=None, json_schema_extra=omit_null)  # may be left out, never null

    @model_validator(mode="after")
    def _not_empty(self) -> TenantUpdate:
        if self.name is None:
            raise ValueError("Give at least one field to change")
        return self


class TenantView(ResponseModel):
    id: uuid.UUID
    name: str
    custom_properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    environments: list[EnvironmentView]
