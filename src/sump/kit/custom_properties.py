"""Custom properties: a flat JSON object of literal keys with bounded size."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sump.kit.errors import Problem, bad_request

MAX_KEYS = 64
MAX_KEY_LENGTH = 64
MAX_BYTES = 16 * 1024

CustomProperties = dict[Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH)], Any]


class CustomPropertyKey(BaseModel):
    """Body of `DELETE …/custom-property`: the key to remove."""

    model_config = ConfigDict(extra="forbid")
    custom_property: str = Field(alias="customProperty", min_length=1, max_length=MAX_KEY_LENGTH)


def check_limits(properties: dict[str, Any]) -> dict[str, Any]:
    """At most 64 keys of at most 64 characters, and 16 KiB serialised."""
    if len(properties) > MAX_KEYS:
        raise bad_request("too_many_custom_properties", f"At most {MAX_KEYS} custom properties are allowed.")
    for key in properties:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise bad_request("custom_property_key_invalid", f"Keys must be 1 to {MAX_KEY_LENGTH} characters.")
    try:
        size = len(json.dumps(properties, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except ValueError:  # NaN or ±Infinity (a JSON number too large for a float reads as Infinity)
        raise bad_request(
            "custom_property_value_invalid", "Values must be standard JSON: no NaN or Infinity."
        ) from None
    if size > MAX_BYTES:
        raise Problem(413, "custom_properties_too_large", f"Custom properties may not exceed {MAX_BYTES} bytes.")
    return properties


def merged(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Sets every key of `changes` (keys are literal: a `.` is not a path) and checks the limits of the result."""
    if not changes:
        raise bad_request("custom_properties_empty", "Give at least one property to set.")
    return check_limits({**current, **changes})


def without(current: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in current.items() if name != key}
