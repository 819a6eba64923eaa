"""Request and response bodies, camelCase on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from .models import DESCRIPTION_MAX, NAME_MAX

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)]


class RequestModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")


class ProjectCreate(RequestModel):
    name: Name
    description: Description | None = None


class ProjectUpdate(RequestModel):
    """Only the fields sent change; `description: null` clears it."""

    name: Name | None = None
    description: Description | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ProjectUpdate:
        if not self.model_fields_set:
            raise ValueError("send name and/or description")
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class ProjectView(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    organization_id: uuid.UUID
    created_by_user_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
