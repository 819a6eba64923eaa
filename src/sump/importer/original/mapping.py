"""How one row of the original becomes the fields of a Sump row: identifiers, roles, properties, names."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sump.db.tables.environments import Environment
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.db.tables.tenants import Tenant
from sump.importer.original.report import ImportReport
from sump.kit.custom_properties import check_limits
from sump.kit.errors import Problem
from sump.kit.identifiers import normalize_email, normalize_phone, normalize_username
from sump.kit.passwords import ARGON2_PREFIX, bcrypt_cost
from sump.kit.schemas import HttpUrl

IDENTIFIERS = ("email", "phone", "username")


def _max_length(model: Any, column: str) -> int:
    return int(model.__table__.c[column].type.length)


TENANT_NAME_LENGTH = _max_length(Tenant, "name")
ENVIRONMENT_NAME_LENGTH = _max_length(Environment, "name")
PERSON_NAME_LENGTH = _max_length(TenantAccount, "name")
EMAIL_LENGTH = _max_length(TenantAccount, "email")
USERNAME_LENGTH = _max_length(TenantAccount, "username")
AVATAR_URL_LENGTH = _max_length(TenantAccount, "avatar_url")


class Claims:
    """The identifiers held in one pool: a tenant's accounts, or the end users of one environment."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.holders: dict[tuple[str, str], uuid.UUID] = {}

    def clash(self, identifiers: dict[str, str | None]) -> str | None:
        for kind in IDENTIFIERS:
            value = identifiers[kind]
            holder = self.holders.get((kind, value)) if value is not None else None
            if holder is not None:
                return f"duplicate {kind} {value!r} after normalisation: {self.label} {holder} has it"
        return None

    def claim(self, holder: uuid.UUID, identifiers: dict[str, str | None]) -> None:
        for kind in IDENTIFIERS:
            value = identifiers[kind]
            if value is not None:
                self.holders[(kind, value)] = holder


def identifiers_of(row: Any) -> dict[str, str | None] | str:
    """The account's identifiers as Sump stores them, or why they are not acceptable."""
    raw_email, raw_username, raw_phone = row["email"], row["username"], row["phone"]
    try:
        email = normalize_email(raw_email or "")
    except ValueError as exc:
        return f"invalid email {raw_email!r}: {exc}"
    if len(email) > EMAIL_LENGTH:
        return f"invalid email {raw_email!r}: longer than {EMAIL_LENGTH} characters"
    try:
        username = normalize_username(raw_username or "")
    except ValueError as exc:
        return f"invalid username {raw_username!r}: {exc}"
    if len(username) > USERNAME_LENGTH:
        return f"invalid username {raw_username!r}: longer than {USERNAME_LENGTH} characters"
    phone = None
    if raw_phone is not None and raw_phone.strip():
        try:
            phone = normalize_phone(raw_phone)
        except ValueError as exc:
            return f"invalid phone {raw_phone!r}: {exc}"
    return {"email": email, "phone": phone, "username": username}


def account_fields(report: ImportReport, table: str, row: Any, identifiers: dict[str, str | None]) -> dict[str, Any]:
    account_id = as_uuid(row["id"])
    password_hash = row["password_hash"]
    if password_hash is not None and bcrypt_cost(password_hash) is None and not password_hash.startswith(ARGON2_PREFIX):
        report.adjust(
            table,
            account_id,
            "its password hash is neither bcrypt (of a cost from 4 to 31) nor Argon2: kept, but it will not match any"
            " password",
        )
    avatar_url = row["avatar_url"]
    if avatar_url is not None and len(avatar_url) > AVATAR_URL_LENGTH:
        report.adjust(table, account_id, f"avatar_url dropped: longer than {AVATAR_URL_LENGTH} characters")
        avatar_url = None
    elif avatar_url is not None and not _http_url(avatar_url):
        # The original took any URL its validator parsed (`javascript:`, `data:` …), from anyone for end users.
        report.adjust(table, account_id, "avatar_url dropped: not an http:// or https:// URL, as Sump requires")
        avatar_url = None
    return {
        "id": account_id,
        **identifiers,
        "email_verified": bool(row["email_verified"]),
        "phone_verified": bool(row["phone_verified"]),
        "name": fit(report, table, account_id, "name", row["name"] or "", PERSON_NAME_LENGTH),
        "avatar_url": avatar_url,
        "password_hash": password_hash,
        "disabled": bool(row["disabled"]),
        "disabled_at": aware(row["disabled_at"]) if row["disabled_at"] is not None else None,
        "created_at": aware(row["created_at"]),
        "updated_at": aware(row["updated_at"]),
    }


def role_of(roles: Any, tenant_id: uuid.UUID) -> tuple[TenantRole, list[str]]:
    """The role that `roles` gives on the account's own tenant ("user" when none), and what was dropped.

    The original let an element naming another tenant grant access to it: such elements are dropped here.
    """
    dropped: list[str] = []
    if not isinstance(roles, list):
        return TenantRole.USER, [f"roles {_short(roles)} dropped: not a JSON array"]
    granted: set[TenantRole] = set()
    known = {role.value for role in TenantRole}
    for element in roles:
        if not isinstance(element, dict):
            dropped.append(f"role element {_short(element)} dropped: not a JSON object")
            continue
        role, target, target_id = element.get("role"), element.get("target"), element.get("targetId")
        if target == "tenant" and _same_id(target_id, tenant_id):
            if role in known:
                granted.add(TenantRole(role))
            else:
                dropped.append(f"role element {_short(element)} dropped: unknown role")
        elif target == "tenant":
            dropped.append(
                f"role {role!r} on another tenant ({target_id}) dropped: a role never reaches outside the account's "
                "own tenant (in the original it did, a privilege-escalation bug)"
            )
        else:
            dropped.append(f"role element {_short(element)} dropped: Sump has tenant roles only")
    if not granted:
        return TenantRole.USER, dropped
    best = max(granted, key=lambda role: role.rank)
    if len(granted) > 1:
        names = ", ".join(sorted(role.value for role in granted))
        dropped.append(f"several roles on its own tenant ({names}): kept the highest, {best.value}")
    return best, dropped


def properties_of(report: ImportReport, table: str, row_id: uuid.UUID, value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    try:
        check_limits(value)
    except Problem as exc:
        report.adjust(
            table,
            row_id,
            f"custom properties kept although above Sump's limits ({exc.detail}); changes to them through the API "
            "are refused until they are reduced",
        )
    return value


def fit(report: ImportReport, table: str, row_id: uuid.UUID, column: str, value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    report.adjust(table, row_id, f"{column} shortened to {limit} characters")
    return value[:limit]


def unique_name(name: str, taken: set[str], limit: int) -> str:
    if name not in taken:
        return name
    number = 2
    while True:
        suffix = f" ({number})"
        candidate = name[: limit - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def _http_url(value: str) -> bool:
    """Whether the API would take `value` as a URL (`kit.schemas.HttpUrl`)."""
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        return False
    return True


_HTTP_URL: TypeAdapter[str] = TypeAdapter(HttpUrl)


def _same_id(value: Any, expected: uuid.UUID) -> bool:
    try:
        return uuid.UUID(str(value)) == expected
    except ValueError:
        return False


def as_uuid(value: Any) -> uuid.UUID:
    return value if type(value) is uuid.UUID else uuid.UUID(str(value))


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."
