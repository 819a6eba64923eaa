"""Per-request context available to logs and error bodies."""

import uuid
from contextvars import ContextVar

NO_REQUEST = "-"  # the request id of what happens outside any request (a request may not take it)
request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)
client_var: ContextVar[tuple[str, str | None]] = ContextVar("client", default=("unknown", None))
# The automation client a request acts as (its id), which the audit log names as the actor.
acting_client_var: ContextVar[uuid.UUID | None] = ContextVar("acting_client", default=None)
