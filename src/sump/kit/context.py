"""Per-request context available to logs and error bodies."""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
client_var: ContextVar[tuple[str, str | None]] = ContextVar("client", default=("unknown", None))
