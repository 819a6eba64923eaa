"""Normalisation of the identifiers a person signs in with: email, username and phone."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

import regex
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StringConstraints
from pydantic.config import JsonDict

from sump.kit.schemas import UNSEEN

USERNAME_PATTERN = re.compile(r"[\w.\-]+")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
MAX_EMAIL = 254
MAX_USERNAME = 64  # what the username column holds


def normalize_email(value: str) -> str:
    """NFKC, lower-cased, syntax-checked (no DNS lookups)."""
    candidate = unicodedata.normalize("NFKC", value).strip()
    if len(candidate) > MAX_EMAIL:
        raise ValueError("Email is too long")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("Must be a valid email address") from None
    normalized: str = result.normalized.lower()
    if len(normalized) > MAX_EMAIL:  # lower-casing may lengthen it (`İ` is two characters in lower case)
        raise ValueError("Email is too long")
    return normalized


def normalize_username(value: str) -> str:
    """NFKC and case-folded; letters, digits, `_`, `.` and `-` only; at most 64 characters once normalised (the
    20 characters typed may grow: `㌖` is `キロメートル`)."""
    candidate = unicodedata.normalize("NFKC", value).strip().casefold()
    if not USERNAME_PATTERN.fullmatch(candidate):
        raise ValueError("May contain only letters, digits, '_', '.' and '-'")
    if len(candidate) > MAX_USERNAME:
        raise ValueError(f"Must be at most {MAX_USERNAME} characters once normalised")
    return candidate


# Unicode's scripts recommended for identifiers (UAX #31, table 5); and Latin with the scripts written beside Han,
# the combinations UTS #39's highly restrictive profile allows. Common and Inherited characters (digits, `_`, `.`,
# `-`, combining marks) go with any.
_ONE_SCRIPT = (
    "Arabic Armenian Bengali Bopomofo Cyrillic Devanagari Ethiopic Georgian Greek Gujarati Gurmukhi Han Hangul "
    "Hebrew Hiragana Kannada Katakana Khmer Lao Latin Malayalam Myanmar Oriya Sinhala Tamil Telugu Thaana Thai Tibetan"
)
_WITH_HAN = ("Latin Han Hiragana Katakana", "Latin Han Bopomofo", "Latin Han Hangul")


def _writing(scripts: str) -> regex.Pattern[str]:
    classes = "".join(rf"\p{{scx={name}}}" for name in ("Common", "Inherited", *scripts.split()))
    return regex.compile(f"[{classes}]*")


_WRITINGS = [_writing(scripts) for scripts in (*_ONE_SCRIPT.split(" "), *_WITH_HAN)]


def one_script(value: str) -> str:
    """A new username is written in one of the scripts recommended for identifiers, or in Latin with Han and the
    scripts written beside it, and holds nothing unseen: `admin` with a Cyrillic `a` (U+0430) among its Latin
    letters, or with a Hangul filler after it, is refused, since it would look like `admin` wherever a name is
    shown."""
    if UNSEEN.search(value) or not any(writing.fullmatch(value) for writing in _WRITINGS):
        raise ValueError("Must be written in one script, with no invisible letters: it would look like another name")
    return value


def normalize_phone(value: str) -> str:
    """E.164: `+`, a non-zero country digit, 7 to 15 digits in all; spaces, dots, dashes and brackets dropped."""
    candidate = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    if not E164.fullmatch(candidate):
        raise ValueError("Must be a phone number in E.164 format, like +14155550123")
    return candidate


# The documented shapes (`Field(json_schema_extra=…)`: documentation only, the validators above decide): what
# clients and the API fuzzer learn from the OpenAPI document. NFKC folding is the one rule they leave out.
EMAIL_SHAPE: JsonDict = {"format": "email"}
USERNAME_SHAPE: JsonDict = {"pattern": r"^\s*[\w.\-]+\s*$"}
PHONE_SHAPE: JsonDict = {"pattern": r"^[\s.\-()]*\+[\s.\-()]*[1-9](?:[\s.\-()]*[0-9]){6,14}[\s.\-()]*$"}
_EMAIL_SCHEMA = Field(json_schema_extra=EMAIL_SHAPE)
_USERNAME_SCHEMA = Field(json_schema_extra=USERNAME_SHAPE)
_PHONE_SCHEMA = Field(json_schema_extra=PHONE_SHAPE)
Email = Annotated[str, StringConstraints(max_length=MAX_EMAIL), AfterValidator(normalize_email), _EMAIL_SCHEMA]
Username = Annotated[
    str, StringConstraints(min_length=3, max_length=20), AfterValidator(normalize_username), _USERNAME_SCHEMA
]
Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(normalize_phone), _PHONE_SCHEMA]
# A username being chosen (sign-up, an account made or renamed); `Username` is any that may sign in.
NewUsername = Annotated[Username, AfterValidator(one_script)]
