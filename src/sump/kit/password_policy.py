"""The password policy: length in code points, no composition rules, not built from the account's own names."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sump.kit.errors import bad_request


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    max_length: int = 128

    def check(self, password: str, *, email: str | None = None, username: str | None = None) -> None:
        """Raises a 400 naming the rule that failed; the password itself is never echoed."""
        length = len(unicodedata.normalize("NFKC", password))
        if length < self.min_length:
            raise bad_request(
                "password_too_short", f"Password must be at least {self.min_length} characters.", "password"
            )
        if length > self.max_length:
            raise bad_request(
                "password_too_long", f"Password must be at most {self.max_length} characters.", "password"
            )
        folded = password.casefold()
        for word in (email.split("@", 1)[0] if email else None, username):
            if word and len(word) >= 3 and word.casefold() in folded:
                raise bad_request(
                    "password_contains_identifier",
                    "Password must not contain your email name or username.",
                    "password",
                )


DEFAULT_POLICY = PasswordPolicy()
