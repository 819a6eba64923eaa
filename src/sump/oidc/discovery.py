"""The OpenID Provider metadata of an environment (OpenID Connect Discovery 1.0, RFC 8414): what is
implemented and tested, and nothing else."""

from __future__ import annotations

import uuid
from typing import Any

from sump.clients.schemas import OIDC_SCOPES
from sump.config import Settings
from sump.oidc.id_tokens import SCOPE_CLAIMS
from sump.tokens import keys
from sump.tokens.service import issuer

ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "amr", "sid")


def document(settings: Settings, environment_id: uuid.UUID) -> dict[str, Any]:
    base = issuer(settings, environment_id)
    auth = f"{settings.public_url}/api/v1/auth/environments/{environment_id}"
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{auth}/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "revocation_endpoint": f"{auth}/token/revoke",
        "introspection_endpoint": f"{auth}/token/introspect",
        "end_session_endpoint": f"{base}/end-session",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(keys.ALGORITHMS),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(OIDC_SCOPES),
        "claims_supported": [*ID_TOKEN_CLAIMS, *(claim for names in SCOPE_CLAIMS.values() for claim in names)],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }
