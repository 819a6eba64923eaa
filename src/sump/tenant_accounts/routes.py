from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from sump.access.actors import TenantActor
from sump.access.dependencies import TenantMember, allowed
from sump.accounts import verification
from sump.accounts.schemas import Message
from sump.kit.deps import CallDep, HasherDep
from sump.kit.errors import bad_request, problem_responses
from sump.kit.identifiers import EMAIL_SHAPE, MAX_EMAIL, PHONE_SHAPE, USERNAME_SHAPE
from sump.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, link_next
from sump.kit.schemas import Created
from sump.kit.transactions import DbSession
from sump.tenant_accounts import policy, service
from sump.tenant_accounts.schemas import (
    AccountCreate,
    AccountUpdate,
    AccountView,
    EmailChange,
    Identification,
    PhoneChange,
    RoleChange,
    UsernameChange,
)

router = APIRouter(
    prefix="/tenants/{tenantId}/accounts",
    tags=["tenant accounts"],
    responses=problem_responses(400, 401, 403, 404),
)
AccountId = Annotated[uuid.UUID, Path(alias="accountId")]
AccountManager = Annotated[TenantActor, allowed(policy.manage_accounts)]


@router.get("", response_model=list[AccountView])
async def list_accounts(
    request: Request,
    response: Response,
    actor: TenantMember,
    db: DbSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> list[AccountView]:
    """Accounts of the tenant, oldest first. The next page, if any, is in the `Link` header."""
    accounts = await service.page(db, actor, decode_cursor(cursor), limit)
    link_next(request, response, accounts, limit)
    return [AccountView.of(account) for account in accounts]


@router.post("", status_code=201, response_model=Created, responses=problem_responses(409, 503))
async def create_account(body: AccountCreate, actor: AccountManager, db: DbSession, hasher: HasherDep) -> Created:
    """Creates an account. Admins create users only; owners may grant any role of this tenant."""
    account = await service.create(db, hasher, actor, body)
    return Created(id=account.id)


@router.get("/user-defined-identification", response_model=AccountView)
async def find_account(
    request: Request,
    actor: TenantMember,
    db: DbSession,
    email: Annotated[str | None, Query(max_length=MAX_EMAIL, json_schema_extra=EMAIL_SHAPE)] = None,
    phone: Annotated[str | None, Query(max_length=32, json_schema_extra=PHONE_SHAPE)] = None,
    username: Annotated[str | None, Query(min_length=3, max_length=20, json_schema_extra=USERNAME_SHAPE)] = None,
) -> AccountView:
    """Finds the account holding every identifier given, by query parameters (or, as before, a JSON body)."""
    given: dict[str, object] = {
        key: value for key, value in (("email", email), ("phone", phone), ("username", username)) if value
    }
    if not given:
        given = await _json_body(request)
    try:
        query = Identification.model_validate(given)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return AccountView.of(await service.find(db, actor, query))


async def _json_body(request: Request) -> dict[str, object]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        raise bad_request("malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("validation_failed", "The request body must be a JSON object.")
    return body


@router.get("/{accountId}", response_model=AccountView)
async def get_account(account_id: AccountId, actor: TenantMember, db: DbSession) -> AccountView:
    return AccountView.of(await service.get(db, actor, account_id))


@router.patch("/{accountId}", status_code=204)
async def update_account(account_id: AccountId, body: AccountUpdate, actor: TenantMember, db: DbSession) -> None:
    """Changes name or avatar: one's own, or an account one manages."""
    await service.update(db, actor, account_id, body)


CHANGE_REFUSALS = problem_responses(409, 429, 503)
PENDING_EMAIL: dict[int | str, dict[str, Any]] = {
    202: {"model": Message, "description": "One's own new email: pending until the link sent to it is followed."}
}


def pending_email() -> JSONResponse:
    return JSONResponse({"message": verification.CHANGE_ANSWER}, status_code=202)


@router.patch(
    "/{accountId}/email", status_code=204, response_model=None, responses={**CHANGE_REFUSALS, **PENDING_EMAIL}
)
async def change_email(account_id: AccountId, body: EmailChange, actor: TenantMember, call: CallDep) -> Response | None:
    """Changes the email. One's own needs `currentPassword`; an account one manages (role rules) does not.
    The old address is told, and earlier password reset links stop working.
    One's own new email takes effect only once verified: 202, and the new address gets a link that makes the
    change (24 hours) while the old one is told, with a link that cancels it."""
    if await service.change_identifier(call, actor, account_id, "email", body.email, body.current_password):
        return pending_email()
    return None


@router.patch("/{accountId}/phone", status_code=204, responses=CHANGE_REFUSALS)
async def change_phone(account_id: AccountId, body: PhoneChange, actor: TenantMember, call: CallDep) -> None:
    """Changes the phone, with the same rules as the email; the account's email is told, and earlier password
    reset links stop working."""
    await service.change_identifier(call, actor, account_id, "phone", body.phone, body.current_password)


@router.patch("/{accountId}/username", status_code=204, responses=CHANGE_REFUSALS)
async def change_username(account_id: AccountId, body: UsernameChange, actor: TenantMember, call: CallDep) -> None:
    """Changes the username, with the same rules as the email (nothing is sent)."""
    await service.change_identifier(call, actor, account_id, "username", body.username, body.current_password)


@router.post("/{accountId}/email-verified", status_code=204)
async def mark_email_verified(account_id: AccountId, actor: AccountManager, call: CallDep) -> None:
    """Marks the account's email verified, without a link: owners, and admins for users (audited)."""
    await service.mark_email_verified(call, actor, account_id)


@router.patch("/{accountId}/role", status_code=204, responses=problem_responses(409))
async def change_role(account_id: AccountId, body: RoleChange, actor: AccountManager, db: DbSession) -> None:
    """Changes the role. Only owners grant owner or admin; the last enabled owner cannot be demoted (409)."""
    await service.change_role(db, actor, account_id, body.role)


@router.patch("/{accountId}/disable", status_code=204, responses=problem_responses(409))
async def disable_account(account_id: AccountId, actor: AccountManager, db: DbSession) -> None:
    """Disables the account and revokes its sessions at once."""
    await service.set_disabled(db, actor, account_id, True)


@router.patch("/{accountId}/enable", status_code=204)
async def enable_account(account_id: AccountId, actor: AccountManager, db: DbSession) -> None:
    await service.set_disabled(db, actor, account_id, False)


@router.delete("/{accountId}", status_code=204, responses=problem_responses(409))
async def delete_account(account_id: AccountId, actor: AccountManager, db: DbSession) -> None:
    """Deletes the account and its sessions. The last enabled owner cannot be deleted (409)."""
    await service.delete(db, actor, account_id)
