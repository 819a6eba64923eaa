"""No periodic password rotation, no password hints, no security questions (NIST 800-63B): nothing in the stored
schema, the API's documents or the settings could hold one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from sump.config import Settings
from sump.db.tables import metadata

FORBIDDEN = re.compile(
    r"hint|question|answer|reminder"  # hints and security questions
    r"|password_?(expir|max_?age|age|rotat|valid_?until|lifetime)|must_?change|change_?required|force_?change",
    re.IGNORECASE,
)
# Protocol parameters that happen to say "hint", none of them about a password (OpenID Connect, RFC 7009).
PROTOCOL_HINTS = frozenset({"id_token_hint", "login_hint", "token_type_hint"})


def _forbidden(names: set[str]) -> list[str]:
    return sorted(name for name in names - PROTOCOL_HINTS if FORBIDDEN.search(name))


def _properties(node: Any) -> Iterator[str]:
    """Every property name of every schema in an OpenAPI document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _properties(value)
    elif isinstance(node, list):
        for value in node:
            yield from _properties(value)


def test_the_pattern_finds_what_it_looks_for() -> None:
    assert _forbidden(
        {
            "passwordHint",
            "securityQuestion",
            "security_answer",
            "password_expires_at",
            "passwordMaxAge",
            "mustChangePassword",
            "login_hint",
            "password_changed_at",
            "newPassword",
        }
    ) == [
        "mustChangePassword",
        "passwordHint",
        "passwordMaxAge",
        "password_expires_at",
        "securityQuestion",
        "security_answer",
    ]


@pytest.mark.asvs("PWD-08")
def test_no_table_column_holds_a_hint_a_question_or_a_password_expiry() -> None:
    columns = {f"{table.name}.{column.name}" for table in metadata.tables.values() for column in table.columns}
    assert len(columns) > 100  # the models were read
    assert _forbidden({name.split(".", 1)[1] for name in columns}) == []


@pytest.mark.asvs("PWD-08")
async def test_no_api_field_or_parameter_holds_a_hint_a_question_or_a_password_expiry(app: FastAPI) -> None:
    document = app.openapi()
    properties = set(_properties(document))
    parameters = {
        parameter["name"]
        for operations in document["paths"].values()
        for operation in operations.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
    }
    assert {"password", "newPassword", "currentPassword", "passwordMinLength"} <= properties  # the schemas were read
    assert _forbidden(properties | parameters) == []


@pytest.mark.asvs("PWD-08")
def test_no_setting_rotates_passwords() -> None:
    assert "secret_key" in Settings.model_fields
    assert _forbidden(set(Settings.model_fields)) == []
