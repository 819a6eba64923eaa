from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from sump.environments.models import Environment
from sump.kit.custom_properties import CustomProperties
from sump.kit.schemas import ContainerName, RequestModel, ResponseModel


class EnvironmentSettings(RequestModel):
    """Rules for the end users of one environment."""

    signup_enabled: bool = Field(default=True, description="Whether end users may sign up themselves.")
    password_min_length: int = Field(default=8, ge=8, le=128)
    password_max_length: int = Field(default=128, ge=8, le=1024)

    @model_validator(mode="after")
    def _ordered(self) -> EnvironmentSettings:
        if self.password_min_length > self.password_max_length:
            raise ValueError("passwordMinLength must not exceed passwordMaxLength")
        return self


class EnvironmentCreate(RequestModel):
    name: ContainerName
    custom_properties: CustomProperties | None = None
    settings: EnvironmentSettings | None = None


class EnvironmentUpdate(RequestModel):
    name: ContainerName | None = None
    settings: EnvironmentSettings | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> EnvironmentUpdate:
        if self.name is None and self.settings is None:
            raise ValueError("Give at least one field to change")
        return self


class EnvironmentView(ResponseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    custom_properties: dict[str, Any]
    settings: EnvironmentSettings
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, environment: Environment) -> EnvironmentView:
        return cls(
            id=environment.id,
            tenant_id=environment.tenant_id,
            name=environment.name,
            custom_properties=environment.custom_properties,
            settings=EnvironmentSettings.model_validate(environment.settings),
            created_at=environment.created_at,
            updated_at=environment.updated_at,
        )
