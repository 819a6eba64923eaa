"""Request bodies parsed by pydantic's own JSON parser (the token endpoints read theirs so) leave no secret behind:
the parser keeps the short strings it reads in a process-wide cache of 16,384 unless a model asks it to keep only
keys. A password, a refresh token or a client secret would stay in the worker's memory after its request, until
other strings pushed it out (and the cache grew the worker by up to about 1.6 MiB of them)."""

from __future__ import annotations

import json
from typing import Any

from sump.app import create_app  # noqa: F401 (imports every route, so every request model exists)
from sump.auth.schemas import TokenRequest
from sump.clients.schemas import AutomationTokenRequest
from sump.kit.schemas import RequestModel


def _read_twice(model: type[RequestModel], body: dict[str, Any], field: str) -> tuple[object, object]:
    text = json.dumps(body)
    return getattr(model.model_validate_json(text), field), getattr(model.model_validate_json(text), field)


def test_a_secret_read_from_json_is_not_kept_by_the_parser() -> None:
    """A string the parser cached comes back as the very object it kept: read twice, it is the same one."""
    cases: list[tuple[type[RequestModel], dict[str, Any], str]] = [
        (TokenRequest, {"grantType": "password", "username": "someone", "password": "my own password"}, "password"),
        (TokenRequest, {"grantType": "refresh_token", "refreshToken": "r" * 43}, "refresh_token"),
        (AutomationTokenRequest, {"grantType": "client_credentials", "clientSecret": "s" * 43}, "client_secret"),
    ]
    for model, body, field in cases:
        first, second = _read_twice(model, body, field)
        assert first == second
        assert first is not second, f"{model.__name__}.{field} was kept by the JSON parser"


def test_every_request_model_keeps_only_keys() -> None:
    def every(model: type[RequestModel]) -> list[type[RequestModel]]:
        return [model, *(sub for child in model.__subclasses__() for sub in every(child))]

    models = every(RequestModel)
    assert len(models) > 50
    assert [m.__name__ for m in models if m.model_config.get("cache_strings") != "keys"] == []
