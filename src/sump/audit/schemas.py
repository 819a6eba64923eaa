from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sump.kit.schemas import ResponseModel


class AuditEventView(ResponseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    environment_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    action: str
    outcome: str
    actor_type: str | None
    actor_id: uuid.UUID | None
    target_type: str | None
    target_id: uuid.UUID | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]
    created_at: datetime
