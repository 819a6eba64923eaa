"""The token endpoint of a tenant's automation clients: the client_credentials grant (RFC 6749 §4.4), form-encoded
or JSON, the client authenticated by `client_secret_basic` or `client_secret_post`. The token is an opaque bearer
for Sump's admin API of that tenant only, with the permissions the client holds (or the ones `scope` asks)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from sump.access.dependencies import TenantId
from sump.auth.client_grants import ClientCredentials, invalid_request
from sump.auth.oauth_http import (
    client_credentials,
    is_form,
    oauth_error,
    oauth_error_responses,
    oauth_json,
    oauth_per_ip,
    read_form,
)
from sump.clients import grants
from sump.clients.schemas import AutomationTokenForm, AutomationTokenRequest, ClientTokenResponse
from sump.kit.deps import CallDep
from sump.kit.errors import Problem

router = APIRouter(tags=["auth"])


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _schema(AutomationTokenRequest)},
            "application/x-www-form-urlencoded": {"schema": _schema(AutomationTokenForm)},
        },
    }
}


async def _request(request: Request) -> tuple[ClientCredentials | None, str | None]:
    """The client's credentials and the scope, from a form (RFC 6749's names) or JSON (camelCase)."""
    if is_form(request):
        form = await read_form(request)
        if form.get("grant_type") != grants.CLIENT_CREDENTIALS:
            raise Problem(400, "unsupported_grant_type", "This endpoint serves client_credentials only.")
        return client_credentials(request, form), form.get("scope")
    try:
        body = AutomationTokenRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]) from None
    fields = {"client_id": body.client_id, "client_secret": body.client_secret}
    found = client_credentials(request, {name: value for name, value in fields.items() if value is not None})
    return found, body.scope


@router.post(
    "/auth/tenants/{tenantId}/token",
    response_model=ClientTokenResponse,
    dependencies=[Depends(oauth_per_ip("automation-token", "60/minute"))],
    openapi_extra=BODY,
    responses=oauth_error_responses(400, 401, 429),
)
async def automation_token(request: Request, tenant_id: TenantId, call: CallDep) -> Response:
    """Issues an automation client an opaque access token (at most 15 minutes; no refresh token) for the admin
    API of this tenant. Deleting the client, or rotating its secret without overlap, ends it at once. Errors
    carry RFC 6749's `error` and `error_description` (401 `invalid_client` with `WWW-Authenticate`)."""
    try:
        found, scope = await _request(request)
        if found is None or found.client_id is None:
            raise grants.invalid_client()
        if found.secret is None:
            raise invalid_request("The client secret is required.")
        issued = await grants.automation_token(call, tenant_id, found.client_id, found.secret, scope)
    except Problem as problem:
        await call.roll_back()
        return oauth_error(problem, request)
    body = {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in}
    return oauth_json(body | {"scope": issued.scope})
