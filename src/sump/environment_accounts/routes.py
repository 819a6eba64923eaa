"""`/environments/{environmentId}/accounts…`: end users, managed by the tenant's owners and admins, and by
each end user for their own account."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from sump.access.dependencies import EnvironmentActorDep
from sump.accounts import verification
from sump.accounts.schemas import Message
from sump.environment_accounts import invitations, service
from sump.environment_accounts.schemas import EndUserCreate, EndUserUpdate, EndUserView, Filters
from sump.invitations.schemas import InvitationView
from sump.kit.custom_properties import CustomProperties, CustomPropertyKey
from sump.kit.deps import CallDep, HasherDep
from sump.kit.errors import problem_responses
from sump.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, link_next
from sump.kit.schemas import UTC_NOTE, Created, UtcDateTime
from sump.kit.transactions import DbSession
from sump.sessions.schemas import Revoked
from sump.tenant_accounts.schemas import EmailChange, PhoneChange, UsernameChange

router = APIRouter(
    prefix="/environments/{environmentId}/accounts",
    tags=["end users"],
    responses=problem_responses(400, 401, 403, 404),
)
AccountId = Annotated[uuid.UUID, Path(alias="accountId")]
PropertyChanges = Annotated[CustomProperties, Body(description="Every key is set; keys are literal.")]


@router.post("", status_code=201, response_model=Created, responses=problem_responses(409, 413, 503))
async def create_end_user(body: EndUserCreate, actor: EnvironmentActorDep, db: DbSession, hasher: HasherDep) -> Created:
    """Creates an end user (tenant owners and admins). Without a password, it is set by password reset."""
    account = await service.create(db, hasher, actor, body)
    return Created(id=account.id)


@router.get("", response_model=list[EndUserView])
async def list_end_users(
    request: Request,
    actor: EnvironmentActorDep,
    db: DbSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    q: Annotated[str | None, Query(max_length=100, description="Prefix of email, username or name.")] = None,
    disabled: bool | None = None,
    created_after: Annotated[
        UtcDateTime | None, Query(alias="createdAfter", description=f"Created after this time. {UTC_NOTE}")
    ] = None,
    created_before: Annotated[
        UtcDateTime | None, Query(alias="createdBefore", description=f"Created before this time. {UTC_NOTE}")
    ] = None,
) -> Response:
    """End users of the environment, oldest first. The next page, if any, is in the `Link` header."""
    filters = Filters(q=q, disabled=disabled, created_after=created_after, created_before=created_before)
    rows = await service.page(db, actor, filters, decode_cursor(cursor), limit)
    # Rendered here (the response model documents it): the framework would validate views built from the rows.
    response = Response(EndUserView.render_page(rows), media_type="application/json")
    link_next(request, response, rows, limit)
    return response


@router.get("/{accountId}", response_model=EndUserView)
async def get_end_user(account_id: AccountId, actor: EnvironmentActorDep, db: DbSession) -> EndUserView:
    return EndUserView.of(await service.get(db, actor, account_id, write=False))


@router.patch("/{accountId}", status_code=204, responses=problem_responses(413))
async def update_end_user(
    account_id: AccountId, body: EndUserUpdate, actor: EnvironmentActorDep, db: DbSession
) -> None:
    """Changes the profile (owners and admins, or the end user themselves) and `metadata` (owners and admins)."""
    await service.update(db, actor, account_id, body.model_dump(include=body.model_fields_set))


CHANGE_REFUSALS = problem_responses(409, 429, 503)
PENDING_EMAIL: dict[int | str, dict[str, Any]] = {
    202: {"model": Message, "description": "One's own new email: pending until the link sent to it is followed."}
}


def pending_email() -> JSONResponse:
    return JSONResponse({"message": verification.CHANGE_ANSWER}, status_code=202)


@router.patch(
    "/{accountId}/email", status_code=204, response_model=None, responses={**CHANGE_REFUSALS, **PENDING_EMAIL}
)
async def change_email(
    account_id: AccountId, body: EmailChange, actor: EnvironmentActorDep, call: CallDep
) -> Response | None:
    """Changes the email. An end user's own needs `currentPassword`; the tenant's owners and admins do not.
    The old address is told, and earlier password reset links stop working.
    One's own new email takes effect only once verified: 202, and the new address gets a link that makes the
    change (24 hours) while the old one is told, with a link that cancels it."""
    if await service.change_identifier(call, actor, account_id, "email", body.email, body.current_password):
        return pending_email()
    return None


@router.patch("/{accountId}/phone", status_code=204, responses=CHANGE_REFUSALS)
async def change_phone(account_id: AccountId, body: PhoneChange, actor: EnvironmentActorDep, call: CallDep) -> None:
    """Changes the phone, with the same rules as the email; the account's email is told, and earlier password
    reset links stop working."""
    await service.change_identifier(call, actor, account_id, "phone", body.phone, body.current_password)


@router.patch("/{accountId}/username", status_code=204, responses=CHANGE_REFUSALS)
async def change_username(
    account_id: AccountId, body: UsernameChange, actor: EnvironmentActorDep, call: CallDep
) -> None:
    """Changes the username, with the same rules as the email (nothing is sent)."""
    await service.change_identifier(call, actor, account_id, "username", body.username, body.current_password)


@router.patch("/{accountId}/custom-property", status_code=204, responses=problem_responses(413))
async def set_custom_properties(
    account_id: AccountId, changes: PropertyChanges, actor: EnvironmentActorDep, db: DbSession
) -> None:
    """Sets every key of the body. At most 64 keys of 64 characters and 16 KiB in all."""
    await service.set_properties(db, actor, account_id, changes)


@router.delete("/{accountId}/custom-property", status_code=204)
async def delete_custom_property(
    account_id: AccountId, body: CustomPropertyKey, actor: EnvironmentActorDep, db: DbSession
) -> None:
    await service.delete_property(db, actor, account_id, body.custom_property)


@router.patch("/{accountId}/disable", status_code=204)
async def disable_end_user(account_id: AccountId, actor: EnvironmentActorDep, db: DbSession) -> None:
    """Disables the end user and revokes their sessions at once."""
    await service.set_disabled(db, actor, account_id, True)


@router.patch("/{accountId}/enable", status_code=204)
async def enable_end_user(account_id: AccountId, actor: EnvironmentActorDep, db: DbSession) -> None:
    await service.set_disabled(db, actor, account_id, False)


@router.delete("/{accountId}/sessions", response_model=Revoked)
async def revoke_end_user_sessions(account_id: AccountId, actor: EnvironmentActorDep, db: DbSession) -> Revoked:
    """Signs the end user out everywhere."""
    return Revoked(revoked=await service.revoke_sessions(db, actor, account_id))


@router.post("/{accountId}/email-verified", status_code=204)
async def mark_email_verified(account_id: AccountId, actor: EnvironmentActorDep, call: CallDep) -> None:
    """Marks the end user's email verified, without a link (owners and admins; audited)."""
    await service.mark_email_verified(call, actor, account_id)


@router.post(
    "/{accountId}/invitation", status_code=202, response_model=InvitationView, responses=problem_responses(409, 429)
)
async def invite_end_user(account_id: AccountId, actor: EnvironmentActorDep, call: CallDep) -> InvitationView:
    """Emails an end user made without a password an invitation to choose one (a single-use link valid 7 days
    to the application's `/set-password` page; resending revokes the one sent before). Owners and admins; 409
    `password_already_set`."""
    return InvitationView.of(await invitations.invite(call, actor, account_id))


@router.post("/{accountId}/password-reset", status_code=202)
async def send_password_reset(account_id: AccountId, actor: EnvironmentActorDep, db: DbSession) -> None:
    """Emails the end user a password reset link."""
    await service.send_password_reset(db, actor, account_id)


@router.delete("/{accountId}", status_code=204)
async def delete_end_user(account_id: AccountId, actor: EnvironmentActorDep, db: DbSession) -> None:
    """Deletes the end user (owners and admins, or the end user themselves) with their sessions."""
    await service.delete(db, actor, account_id)
