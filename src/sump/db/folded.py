"""Search keys: a column that holds another's folded form, so a case-insensitive prefix search compares it with the
prefix folded the same way, in Python, and both databases agree (SQL `lower()` keeps `ß`, and SQLite's folds
ASCII only)."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import Text, event
from sqlalchemy.orm import MappedColumn, mapped_column


def fold(value: str) -> str:
    """NFKC, then case-folded (`Straße` is `strasse`, a combining accent its precomposed letter), as identifiers are."""
    return unicodedata.normalize("NFKC", value).casefold()


def folded_column(source: str) -> MappedColumn[Any]:
    """The folded form of column `source`, computed from it when a row is inserted without it (a Core insert,
    `db.inserts`); objects keep it as `keep_folded` says."""

    def default(context: Any) -> str | None:
        value = context.get_current_parameters().get(source)
        return None if value is None else fold(value)

    return mapped_column(Text, default=default)


def keep_folded(model: type[Any], source: str, folded: str) -> None:
    """`folded` of an object of `model` follows each value given to its `source` (made, changed or imported): the
    unit of work then writes both."""

    @event.listens_for(getattr(model, source), "set", propagate=True)
    def follow(target: Any, value: str | None, _old: Any, _initiator: Any) -> None:
        setattr(target, folded, None if value is None else fold(value))
