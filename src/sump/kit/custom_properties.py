"""Custom properties (and an end user's metadata): a JSON object of literal keys with bounded size and nesting.

The limits hold at write time. Rows written before a limit existed may exceed it: `readable` is what every view
shows of a stored object, so that reading such a row still answers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sump.kit.errors import Problem, bad_request

MAX_KEYS = 64
MAX_KEY_LENGTH = 64
MAX_BYTES = 16 * 1024
MAX_DEPTH = 16  # levels of objects and arrays, the properties object itself the first

CustomProperties = dict[Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH)], Any]


class CustomPropertyKey(BaseModel):
    """Body of `DELETE …/custom-property`: the key to remove."""

    model_config = ConfigDict(extra="forbid")
    custom_property: str = Field(alias="customProperty", min_length=1, max_length=MAX_KEY_LENGTH)


def depth(value: Any) -> int:
    """How many objects and arrays nest in `value` (a scalar 0, `{}` 1, `{"a": []}` 2), counted without recursion
    so that no nesting is too deep to measure. Only objects and arrays are queued: a flat object costs a look at
    each value (every view of an account measures its properties)."""
    if not isinstance(value, dict | list):
        return 0
    deepest, pending = 1, [(value, 1)]
    while pending:
        item, level = pending.pop()
        deepest = max(deepest, level)
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                pending.append((child, level + 1))
    return deepest


def readable(value: Any, level: int = 1) -> Any:
    """A stored value as views show it, `level` being where it sits (the properties object is 1): objects and
    arrays below MAX_DEPTH read as null. Within the limit, `value` itself; the stored row is never changed."""
    if depth(value) + level - 1 <= MAX_DEPTH:
        return value
    return _cut(value, level)


def _cut(value: Any, level: int) -> Any:
    if isinstance(value, dict | list) and level > MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {key: _cut(item, level + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item, level + 1) for item in value]
    return value


def check_limits(properties: dict[str, Any]) -> dict[str, Any]:
    """At most 64 keys of at most 64 characters, 16 levels of nesting, and 16 KiB serialised."""
    if depth(properties) > MAX_DEPTH:
        raise bad_request("custom_properties_too_deep", f"Objects and arrays may nest at most {MAX_DEPTH} levels.")
    if len(properties) > MAX_KEYS:
        raise bad_request("too_many_custom_properties", f"At most {MAX_KEYS} custom properties are allowed.")
    for key in properties:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise bad_request("custom_property_key_invalid", f"Keys must be 1 to {MAX_KEY_LENGTH} characters.")
    try:
        size = len(json.dumps(properties, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except ValueError:  # NaN or ±Infinity (a JSON number too large for a float reads as Infinity), a lone surrogate
        raise bad_request(
            "custom_property_value_invalid",
            "Values must be standard JSON: no NaN or Infinity, and text of characters only (no lone surrogate).",
        ) from None
    if size + _decimal_expansion(properties) > MAX_BYTES:
        raise Problem(413, "custom_properties_too_large", f"Custom properties may not exceed {MAX_BYTES} bytes.")
    return properties


def _decimal_expansion(value: Any) -> int:
    """How many bytes more than Python's JSON a value's numbers take as PostgreSQL's jsonb keeps and serves them:
    exact decimals, so `1e308` is 309 digits and `5e-324` 326 characters. The limit counts what is stored."""
    if isinstance(value, float):
        return len(format(Decimal(repr(value)), "f")) - len(repr(value))
    if isinstance(value, dict):
        return sum(_decimal_expansion(item) for item in value.values())
    if isinstance(value, list):
        return sum(_decimal_expansion(item) for item in value)
    return 0


def merged(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Sets every key of `changes` (keys are literal: a `.` is not a path) and checks the limits of the result."""
    if not changes:
        raise bad_request("custom_properties_empty", "Give at least one property to set.")
    return check_limits({**current, **changes})


def without(current: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in current.items() if name != key}
