"""The password policy: length in code points, no composition rules, not a common password, not built from
the account's own names. Every failure is a 400 naming the rule; the password itself is never echoed."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from sump.kit.errors import bad_request


@cache
def common_passwords() -> frozenset[str]:
    text = (files("sump.kit") / "common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#"))


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    max_length: int = 128

    def check(self, password: str, *, email: str | None = None, username: str | None = None) -> None:
        normalized = unicodedata.normalize("NFKC", password)
        if len(normalized) < self.min_length:
            raise bad_request(
                "password_too_short", f"Password must be at least {self.min_length} characters.", "password"
            )
        if len(normalized) > self.max_length:
            raise bad_request(
                "password_too_long", f"Password must be at most {self.max_length} characters.", "password"
            )
        folded = normalized.casefold()
        if folded in common_passwords():
            raise bad_request("password_too_common", "This password is too common; choose another.", "password")
        for word in (email.split("@", 1)[0] if email else None, username):
            if word and len(word) >= 3 and word.casefold() in folded:
                raise bad_request(
                    "password_contains_identifier",
                    "Password must not contain your email name or username.",
                    "password",
                )


DEFAULT_POLICY = PasswordPolicy()
