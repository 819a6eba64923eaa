from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field
from pydantic_core import to_json

from sump.accounts.schemas import IdentityView, LinkToken
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.kit.custom_properties import CustomProperties, readable
from sump.kit.identifiers import Email, NewUsername, Phone
from sump.kit.schemas import HttpUrl, NewPassword, Omittable, PersonName, RequestModel
from sump.tenant_accounts.schemas import AccountUpdate

METADATA = (
    "A JSON object that only the tenant's owners and admins may write (an end user who sends it is refused "
    "with 403 `admin_only_field`); the end user reads it in their own account. Unlike custom properties, which "
    "the end user edits, it can be trusted for authorization. Same limits as custom properties."
)


class EndUserCreate(RequestModel):
    name: PersonName
    email: Email
    username: NewUsername
    phone: Phone | None = None
    avatar_url: HttpUrl | None = None
    custom_properties: CustomProperties | None = None
    metadata: CustomProperties | None = Field(default=None, description=METADATA)
    password: NewPassword | None = Field(default=None, description="Optional; without one, set it by password reset.")


class EndUserUpdate(AccountUpdate):
    metadata: Omittable[CustomProperties] = Field(default=None, description=f"Replaces the whole object. {METADATA}")


class EndUserView(IdentityView):
    environment_id: uuid.UUID
    custom_properties: dict[str, Any] = Field(
        description="Written by the end user and by the tenant's owners and admins."
    )
    metadata: dict[str, Any] = Field(description="Written by the tenant's owners and admins only.")
    has_password: bool

    @classmethod
    def of(cls, account: EnvironmentAccount) -> EndUserView:
        return cls(
            **cls.fields_of(account),
            environment_id=account.environment_id,
            custom_properties=readable(account.custom_properties),
            metadata=readable(account.metadata_),
            has_password=account.password_hash is not None,
        )

    @staticmethod
    def render_page(rows: Sequence[Any]) -> bytes:
        """The JSON of a page of rows of `repository.VIEW_COLUMNS`, byte for byte what the framework renders for
        a `list[EndUserView]` (the same members in the same order, encoded by the same pydantic-core encoder),
        without building and validating a model of each row."""
        views = [dict(zip(_VIEW_MEMBERS, row, strict=True)) for row in rows]
        for view in views:
            if view["customProperties"]:  # empty, as most are, it needs no look
                view["customProperties"] = readable(view["customProperties"])
            if view["metadata"]:
                view["metadata"] = readable(view["metadata"])
            # As text: the encoder writes the driver's own UUID type (a subclass) five times slower.
            view["id"], view["tenantId"] = str(view["id"]), str(view["tenantId"])
            view["environmentId"] = str(view["environmentId"])
        return to_json(views)


IDENTITY_FIELDS = tuple(IdentityView.model_fields)
# The members of a page's row, in the order of `repository.VIEW_COLUMNS`.
_VIEW_MEMBERS = (
    *(field.alias or name for name, field in IdentityView.model_fields.items()),
    "environmentId",
    "customProperties",
    "metadata",
    "hasPassword",
)


@dataclass(frozen=True)
class Filters:
    """What a list of end users may be narrowed to: a prefix of a name or identifier, state, creation time."""

    q: str | None = None
    disabled: bool | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


class SetFirstPassword(RequestModel):
    """The token of an end user's invitation and the password they choose."""

    token: LinkToken
    password: NewPassword
