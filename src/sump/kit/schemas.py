"""Base models: camelCase on the wire, unknown request fields rejected."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel


class RequestModel(BaseModel):
    # cache_strings: pydantic's JSON parser (the token endpoints read their bodies with it) would otherwise keep
    # the short strings it reads, passwords and refresh tokens too, in a process-wide cache after the request.
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False, cache_strings="keys")


class ChangeModel(RequestModel):
    """A partial update: the fields left out keep their values, and at least one is given."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _something_given(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("Give at least one field to change")
        return self


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError("Must be an http:// or https:// URL")
    return value


OUT_OF_RANGE = "Must be a time between the years 1 and 9999 once in UTC"


def _in_utc(value: datetime) -> datetime:
    """A time without an offset is read as UTC; every time is moved to UTC, and must still be a datetime there."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(OUT_OF_RANGE) from None


UTC_NOTE = "An ISO 8601 time; a time without an offset is read as UTC."


def _not_a_number(value: Any) -> Any:
    """A time is written as ISO 8601: a bare number (which pydantic would read as Unix seconds) is refused."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("Must be an ISO 8601 time, like 2026-01-31T12:00:00Z")
    return value


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
UtcDateTime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_in_utc)]
# Documents `_http_url` (the characters below are exactly those of `str.isspace`).
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_HTTP_URL_SCHEMA = Field(json_schema_extra={"pattern": rf"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\[\]{_SPACE}]+[^{_SPACE}]*$"})
HttpUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url), _HTTP_URL_SCHEMA]


def omit_null(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of a field that may be left out but never null: the document leaves out the null."""
    branches = [branch for branch in schema.pop("anyOf", []) if branch.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    else:
        schema["anyOf"] = branches
    schema.pop("default", None)


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("May be left out, but not null")
    return value


T = TypeVar("T")
# A field of a partial update: left out, it keeps its value; null is refused, and the document shows no null. (A
# default is never validated, so only a null that was sent meets `_not_null`.)
Omittable = Annotated[T | None, AfterValidator(_not_null), Field(json_schema_extra=omit_null)]


def no_control_characters(value: str) -> str:
    """A name is one line of text: it is shown in pages, emails and the operator's tab-separated listings, where
    a line break, a tab or an escape sequence would write text of its own; and it reads as it is: no
    bidirectional override, embedding or isolate (which turns the text after it around, in an invitation's
    sentence too) and no invisible character that makes two names look the same (`UNSEEN`)."""
    if UNFIT.search(value):
        raise ValueError("Must not contain control characters (line breaks, tabs, direction overrides and the like)")
    return value


# What shows nothing, or turns the text after it around: Unicode's default-ignorable code points (soft hyphen,
# zero-width space, direction marks, overrides and isolates, word joiners, fillers, byte-order mark, tags) and
# the format characters beside them, and the braille blank. Kept: the joiners that scripts and emoji need
# (U+200C, U+200D) and the variation selectors (U+FE00-FE0F, U+E0100-E01EF: an emoji's presentation).
_UNSEEN = (
    r"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f\u202a-\u202e\u2060-\u206f\u2800"
    r"\u3164\ufeff\uffa0\ufff0-\ufffb"
    + "".join(f"{chr(low)}-{chr(high)}" for low, high in ((0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE00FF)))
    + f"{chr(0xE01F0)}-{chr(0xE0FFF)}"
)
UNSEEN = re.compile(f"[{_UNSEEN}]")
# What a name never holds: control characters (Unicode's Cc), the line and the paragraph separator, and those.
_UNFIT = rf"\x00-\x1f\x7f-\x9f\u2028\u2029{_UNSEEN}"
UNFIT = re.compile(f"[{_UNFIT}]")
# Names are stripped before their length is checked, and hold none of those: the patterns document both.
_ANY = rf"[^{_UNFIT}]"  # a character other than those
_SHOWN = rf"[^\s{_UNFIT}]"  # nor a space
PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=100),
    AfterValidator(no_control_characters),
    Field(json_schema_extra={"pattern": rf"^\s*{_SHOWN}{_ANY}+{_SHOWN}\s*$"}),
]
ContainerName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=100),
    AfterValidator(no_control_characters),
    Field(json_schema_extra={"pattern": rf"^\s*{_SHOWN}{_ANY}*{_SHOWN}\s*$"}),
]
# A passkey's or an authenticator's label, a role's or a permission's description: shown to others too (in the
# console), so held to the names' rule; a description may be empty.
_SHOWN_TEXT = rf"(?:{_SHOWN}(?:{_ANY}*{_SHOWN})?)"
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(no_control_characters),
    Field(json_schema_extra={"pattern": rf"^\s*{_SHOWN_TEXT}\s*$"}),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(no_control_characters),
    Field(json_schema_extra={"pattern": rf"^\s*{_SHOWN_TEXT}?\s*$"}),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
# A password being chosen: the password policy checks it (400 `password_too_short`, …); the document states the
# default policy's lengths so that clients and the API fuzzer send passwords that can pass it.
NewPassword = Annotated[Password, Field(json_schema_extra={"minLength": 8, "maxLength": 128})]


class Created(ResponseModel):
    """The id of what a request created."""

    id: uuid.UUID
