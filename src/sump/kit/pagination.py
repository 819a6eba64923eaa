"""Keyset pagination: ids are time-ordered UUIDs, so the last id of a page is the cursor of the next."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Annotated, Any

from fastapi import Query, Request, Response

from sump.kit.errors import bad_request

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_ID = attrgetter("id")

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=64, description="Opaque cursor from the `Link: rel=next` header.")]


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except ValueError:
        raise bad_request("invalid_cursor", "The cursor is not valid.", "cursor") from None


def link_next(
    request: Request, response: Response, page: Sequence[Any], limit: int, id_of: Callable[[Any], uuid.UUID] = _ID
) -> None:
    """Adds `Link: <…?cursor=…>; rel="next"` when the page is full; the cursor is its last item's id (`id_of`)."""
    if len(page) < limit:
        return
    url = request.url.include_query_params(limit=limit, cursor=encode_cursor(id_of(page[-1])))
    response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
