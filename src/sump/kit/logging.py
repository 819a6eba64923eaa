"""structlog: JSON lines in production, readable lines in development; the request id on every line."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(json_lines: bool, level: int = logging.INFO) -> None:
    """Tracebacks are plain: a rich one would print local variables, request headers and their secrets."""
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if json_lines else structlog.dev.set_exc_info,
    ]
    plain = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    renderer: structlog.typing.Processor = structlog.processors.JSONRenderer() if json_lines else plain
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
