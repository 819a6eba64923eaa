"""Normalisation of the identifiers a person signs in with: email, username and phone."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, StringConstraints

USERNAME_PATTERN = re.compile(r"[\w.\-]+")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
MAX_EMAIL = 254


def normalize_email(value: str) -> str:
    """NFKC, lower-cased, syntax-checked (no DNS lookups)."""
    candidate = unicodedata.normalize("NFKC", value).strip()
    if len(candidate) > MAX_EMAIL:
        raise ValueError("Email is too long")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("Must be a valid email address") from None
    return result.normalized.lower()


def normalize_username(value: str) -> str:
    """NFKC and case-folded; letters, digits, `_`, `.` and `-` only."""
    candidate = unicodedata.normalize("NFKC", value).strip().casefold()
    if not USERNAME_PATTERN.fullmatch(candidate):
        raise ValueError("May contain only letters, digits, '_', '.' and '-'")
    return candidate


def normalize_phone(value: str) -> str:
    """E.164: `+`, a non-zero country digit, 7 to 15 digits in all; spaces, dots, dashes and brackets dropped."""
    candidate = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    if not E164.fullmatch(candidate):
        raise ValueError("Must be a phone number in E.164 format, like +14155550123")
    return candidate


Email = Annotated[str, StringConstraints(max_length=MAX_EMAIL), AfterValidator(normalize_email)]
Username = Annotated[str, StringConstraints(min_length=3, max_length=20), AfterValidator(normalize_username)]
Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(normalize_phone)]
