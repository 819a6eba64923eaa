from __future__ import annotations

from pydantic import model_validator

from sump.kit.identifiers import Email, Phone, Username
from sump.kit.schemas import Password, RequestModel


class Login(RequestModel):
    """One identifier (email, then phone, then username is used) and the password."""

    email: Email | None = None
    phone: Phone | None = None
    username: Username | None = None
    password: Password

    @model_validator(mode="after")
    def _identifier(self) -> Login:
        if self.email is None and self.phone is None and self.username is None:
            raise ValueError("Must provide email, phone, or username")
        return self
