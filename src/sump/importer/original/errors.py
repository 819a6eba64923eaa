"""Why an import cannot go on, told to the person running it."""

from __future__ import annotations


class ImportFailed(Exception):
    """The import cannot go on; the message says why, for the person running it."""


class SourceError(ImportFailed):
    """The original database cannot be reached or read, or does not look like an original Sump database."""


class TargetError(ImportFailed):
    """Sump's own database is not ready to receive the import."""


def reason_of(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


def database_reason(exc: BaseException) -> str:
    """The driver's first line, without the SQL text SQLAlchemy appends."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__
