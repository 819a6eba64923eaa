"""Discovery states only what is implemented: every endpoint it names is a route of the app that answers, and
every capability it lists is one the tests exercise."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from tests.support import TenantWorld


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            found.update((method, context.path or "") for method in context.methods or ())
    return found


async def test_the_document_names_the_routes_it_has(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    environment = world.environment_id
    response = await client.get(f"/api/v1/environments/{environment}/.well-known/openid-configuration")
    assert response.status_code == 200
    document = response.json()
    issuer = f"http://sump.test/api/v1/environments/{environment}"
    assert document["issuer"] == issuer
    endpoints = {
        "authorization_endpoint": ("GET", "/api/v1/environments/{environmentId}/authorize"),
        "token_endpoint": ("POST", "/api/v1/auth/environments/{environmentId}/token"),
        "userinfo_endpoint": ("GET", "/api/v1/environments/{environmentId}/userinfo"),
        "jwks_uri": ("GET", "/api/v1/environments/{environmentId}/.well-known/jwks.json"),
        "revocation_endpoint": ("POST", "/api/v1/auth/environments/{environmentId}/token/revoke"),
        "introspection_endpoint": ("POST", "/api/v1/auth/environments/{environmentId}/token/introspect"),
        "end_session_endpoint": ("GET", "/api/v1/environments/{environmentId}/end-session"),
    }
    routes = _routes(app)
    for name, (method, template) in endpoints.items():
        assert (method, template) in routes, name
        assert document[name] == "http://sump.test" + template.format(environmentId=environment), name
    assert {name for name in document if name.endswith(("_endpoint", "_uri"))} == set(endpoints)
    assert ("POST", "/api/v1/environments/{environmentId}/userinfo") in routes
    assert ("POST", "/api/v1/environments/{environmentId}/end-session") in routes


async def test_the_document_lists_only_what_is_supported(client: httpx.AsyncClient, world: TenantWorld) -> None:
    document = (
        await client.get(f"/api/v1/environments/{world.environment_id}/.well-known/openid-configuration")
    ).json()
    assert document["response_types_supported"] == ["code"]
    assert document["response_modes_supported"] == ["query"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert document["subject_types_supported"] == ["public"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert set(document["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert document["scopes_supported"] == ["openid", "profile", "email", "phone", "offline_access"]
    assert {"sub", "aud", "azp", "nonce", "auth_time", "amr", "sid", "email", "name", "phone_number"} <= set(
        document["claims_supported"]
    )
    assert document["request_parameter_supported"] is False
