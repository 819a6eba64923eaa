"""Schemathesis checks of the API fuzz runs, with the answers that count as acceptance written down.

A request schema states formats, patterns and lengths; some rules it cannot state. Those rules' refusals of data
the schema calls valid count as acceptance, and data the schema calls invalid may be accepted where the server
folds it into a valid value (NFKC, surrounding spaces), which a JSON Schema pattern cannot describe:

- 400 `password_too_common`, `password_contains_identifier`, `password_too_short`, `password_too_long`: the
  password policy (a list of common passwords, the account's own identifiers, the environment's own lengths,
  which an earlier call of the run may have changed);
- 400 `nul_character`: no text may hold U+0000 (PostgreSQL cannot store it), on any field;
- 400 `unknown_permission`, `unknown_role`: a name that must be in the environment's catalog (state);
- 400 `role_target_invalid`: a role grant's `targetId` must be the tenant in the path;
- 400 `organization_required`: an end user in several organizations (state) must name one;
- 400 `admin_account_required`: an organization created by a tenant's account (not by an end user, who becomes
  its first ORG_ADMIN) must name the end user who does;
- 400 `client_field_not_applicable`: a client's change that its purpose (state) does not have, such as an
  application's audience or a machine client's redirect URIs;
- 400 `invalid_cursor`, `invalid_token`: a page cursor or reset token is an opaque value the server issued;
- 400 `too_many_custom_properties`, `custom_property_key_invalid`, `custom_properties_too_large`,
  `custom_properties_empty`: limits on the merged result of stored and sent properties (state) and on their
  serialised size;
- 400 `validation_failed` on an identifier (email, username, phone) holding characters outside ASCII, which
  NFKC folds into something the identifier rules refuse (a vulgar fraction becomes digits around U+2044);
- 400 `validation_failed` on an email whose domain is a special-use name (`.test`, `.local`, `.invalid`, …),
  which the email rules refuse as never deliverable;
- 400 `validation_failed` saying that passwordMinLength would exceed passwordMaxLength, or that a passkey origin
  is not on the passkey relying-party id's domain: two fields compared, with each other or with the stored
  settings (state), which a schema cannot state;
- 400 `validation_failed` on a time that falls outside the years 1 to 9999 once moved to UTC
  (`0001-01-01T00:00:00+01:00`), which `format: date-time` lets through;
- 400 `validation_failed` (on `body`) from the identification lookup given none of email, phone and username
  as query parameters or in a body: it needs one, which OpenAPI cannot say of optional query parameters;
- 400 `validation_failed` on a URL (`avatarUrl`) holding characters outside ASCII, which RFC 3986 does not allow
  in a URI although the generator's `uri` format lets them through;
- 400 from the OAuth 2.0 and OpenID Connect endpoints (`invalid_client`, `invalid_redirect_uri`,
  `invalid_request_token`, `invalid_logout_request`, `invalid_grant`, `invalid_request`, `unauthorized_client`,
  `unsupported_grant_type`, `invalid_scope`): whether a request is good depends on registered clients, their
  redirect URIs, codes and tokens the server issued (state), and on protocol rules between parameters;
- 409 (an identifier taken, a name in use) and 401, 403, 404, 429: already acceptance by schemathesis' default;
- negative data accepted (2xx) only when it carries an identifier with characters outside ASCII or surrounding
  whitespace, which the server folds before it checks (fullwidth letters are ASCII ones), or when its one
  invalid part is a string over its maximum length only with its surrounding whitespace, which the server
  strips before it measures.
"""

from __future__ import annotations

import json
import re
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from schemathesis import checks
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData

from sump.environments.schemas import ORDER_MESSAGE, PASSKEY_ORIGINS_MESSAGE
from sump.kit.schemas import OUT_OF_RANGE

UNSTATED_RULES = {
    "password_too_common",
    "password_contains_identifier",
    "password_too_short",
    "password_too_long",
    "nul_character",
    "unknown_permission",
    "unknown_role",
    "organization_required",
    "admin_account_required",
    "role_target_invalid",
    "client_field_not_applicable",
    "invalid_cursor",
    "invalid_token",
    "too_many_custom_properties",
    "custom_property_key_invalid",
    "custom_properties_too_large",
    "custom_properties_empty",
    # OAuth 2.0 and OpenID Connect: registered clients, issued codes and tokens, rules between parameters.
    "invalid_client",
    "invalid_redirect_uri",
    "invalid_request_token",
    "invalid_logout_request",
    "invalid_grant",
    "invalid_request",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}
IDENTIFIERS = {"email", "username", "phone"}
URLS = {"avatarUrl"}
# How schemathesis names a string made longer than its maxLength: the field's name, or the schema path to it.
TOO_LONG = re.compile(r"in body - (?:(\w+): String larger than maxLength|violates `maxLength` at \S*/properties/(\w+))")


def _problem(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _values_under(keys: set[str], value: Any) -> list[str]:
    """Every string under one of `keys` in a request body, at any depth."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_values_under(keys, item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_values_under(keys, item))
    return found


def _identifier_values(value: Any) -> list[str]:
    return _values_under(IDENTIFIERS, value)


def _folded_by_the_server(value: str) -> bool:
    return not value.isascii() or value != value.strip()


def _refused_by_a_rule_the_schema_cannot_state(response: Any, case: Any) -> bool:
    if response.status_code != 400:
        return False
    problem = _problem(response)
    if problem.get("code") in UNSTATED_RULES:
        return True
    if problem.get("code") != "validation_failed":
        return False
    fields = {str(name).rsplit(".", 1)[-1] for name in (problem.get("errors") or {})}
    body = case.body if isinstance(case.body, dict | list) else {}
    messages = [str(message) for message in (problem.get("errors") or {}).values()]
    if messages and all(
        message.startswith((ORDER_MESSAGE, PASSKEY_ORIGINS_MESSAGE, OUT_OF_RANGE)) for message in messages
    ):
        return True
    if fields == {"body"} and case.path.endswith("/user-defined-identification"):
        return not (set(case.query or {}) & IDENTIFIERS or _identifier_values(body))
    if fields and fields <= URLS:
        return any(isinstance(body, dict) and not str(body.get(field, "")).isascii() for field in fields)
    values = _identifier_values(body)
    return bool(fields) and fields <= IDENTIFIERS and any(_folded_or_undeliverable(value) for value in values)


def _folded_or_undeliverable(value: str) -> bool:
    domain = value.rpartition("@")[2].lower().rstrip(".")
    special = any(domain == name or domain.endswith(f".{name}") for name in SPECIAL_USE_DOMAIN_NAMES)
    return not value.isascii() or special


def positive_data_acceptance(ctx: Any, response: Any, case: Any) -> bool | None:
    try:
        checks.positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _refused_by_a_rule_the_schema_cannot_state(response, case):
            return None
        raise
    return None


def negative_data_rejection(ctx: Any, response: Any, case: Any) -> bool | None:
    try:
        checks.negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData as failure:
        body = case.body if isinstance(case.body, dict | list) else {}
        if any(_folded_by_the_server(value) for value in _identifier_values(body)):
            return None
        too_long = TOO_LONG.search(failure.message)
        field = too_long and (too_long.group(1) or too_long.group(2))
        if field and any(value != value.strip() for value in _values_under({field}, body)):
            return None
        raise
    return None


CONFORMANCE = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
DATA = [positive_data_acceptance, negative_data_rejection]
STATEFUL = [checks.use_after_free, checks.ensure_resource_availability]
