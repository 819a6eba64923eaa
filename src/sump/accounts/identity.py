"""Rules shared by both account families when an account is created or its identifiers change."""

from __future__ import annotations

import uuid

from limits import parse
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import links, passwords, repository
from sump.db.tables.links import LinkPurpose
from sump.db.tables.outbox import OutboxKind
from sump.kit import audit
from sump.kit.audit import ref
from sump.kit.call import Call
from sump.kit.email.outbox import enqueue, enqueue_email
from sump.kit.errors import Problem

NAMES = {"email": "email address", "phone": "phone number", "username": "username"}
# What the account is told when an identifier that reaches it changes; a username reaches no one.
NOTICES = {"email": "email_changed", "phone": "phone_changed"}
NOTICES_PER_ACCOUNT = parse("5/hour")
EMAIL_LINKS = (LinkPurpose.VERIFY_EMAIL, LinkPurpose.CHANGE_EMAIL, LinkPurpose.CANCEL_EMAIL_CHANGE)


async def get(db: AsyncSession, pool: Pool, account_id: uuid.UUID) -> Account | None:
    """The pool's account with this id, enabled or not."""
    return await repository.get_account(db, pool, account_id)


async def find(db: AsyncSession, pool: Pool, kind: str, value: str) -> Account | None:
    """The pool's account with this identifier (`email`, `phone` or `username`, normalised), enabled or not."""
    return await repository.find_account(db, pool, **{kind: value})


async def ensure_identifiers_free(
    db: AsyncSession, pool: Pool, exclude: uuid.UUID | None = None, **values: str | None
) -> None:
    """409 naming each identifier (email, phone, username) that another account of the pool holds."""
    taken = await repository.taken_identifiers(db, pool, values, exclude)
    if taken:
        where = "environment" if pool.environment_id else "tenant"
        errors = {name: f"This {name} is already in use in this {where}." for name in sorted(taken)}
        raise Problem(409, "identifier_taken", "An account with this identification already exists.", errors=errors)


async def enqueue_reset(db: AsyncSession, pool: Pool, kind: str, value: str) -> None:
    """Records a reset request for the outbox worker, which finds the account (if any) and sends the email."""
    payload = {"accountType": pool.account_type.value, "contextId": str(pool.scope_id), "kind": kind, "value": value}
    await enqueue(db, OutboxKind.PASSWORD_RESET, payload)


def current_password_required(field: str) -> Problem:
    """An account changing its own identifier without its current password."""
    message = f"Enter your current password to change your {NAMES[field]}."
    return Problem(403, "current_password_required", message, errors={"currentPassword": message})


async def confirm_own_change(
    call: Call, pool: Pool, account: Account, field: str, value: str, current_password: str | None
) -> None:
    """An account changing its own identifier proves it with its current password, like a sign-in; a refusal
    other than for load is audited (`tenant_account.email_change_failed`, `end_user.phone_change_failed`, …).

    The links the change will end go before the account's row is held (a sign-in's order, `accounts.removal`):
    a reset or an email change being confirmed meanwhile is waited for, not met in a circle."""

    async def links_first() -> None:
        if field == "email":  # a request replaces the change in progress (`verification.request_change`)
            await links.revoke(call.db, pool, account, LinkPurpose.CHANGE_EMAIL)
        elif field in NOTICES and getattr(account, field) != value:
            await links.end_ways_in(call.db, pool, account)

    try:
        if current_password is None:
            raise current_password_required(field)
        await passwords.check_current_password(call, pool, account, current_password, links_first)
    except Problem as problem:
        family = "end_user" if pool.environment_id else "tenant_account"
        action = f"{family}.{field}_change_failed"
        audit.record_failure(
            call, action, problem, tenant_id=pool.tenant_id, environment_id=pool.environment_id, target=ref(account)
        )
        raise


async def change_identifier(call: Call, pool: Pool, account: Account, field: str, value: str) -> bool:
    """Gives `account` a new email, phone or username (unverified), unless it already has it (False).

    For an email or a phone, the account is told through the outbox in this transaction: at the old address
    for an email, at its email for a phone. Its outstanding password reset tokens are deleted, so a link sent
    before the change (perhaps to the old address) no longer works. A new email also ends the verification
    link and an email change in progress: its confirmation link would replace the address just set, and its
    cancel link, in the old mailbox, would bring the old address back. Who may make the change is the caller's
    rule; nothing here names the old or new value anywhere but in the row itself."""
    previous: str | None = getattr(account, field)
    if previous == value:
        return False
    await ensure_identifiers_free(call.db, pool, account.id, **{field: value})
    if field in NOTICES:
        # Each change mails the account in Sump's name, with its name in the text: a few an hour whoever makes
        # them (an admin could set the address of anyone), on even with per-IP limits off.
        await call.limiter.enforce(NOTICES_PER_ACCOUNT, "identifier-notices", str(account.id))
    setattr(account, field, value)
    setattr(account, f"{field}_verified", False)
    template = NOTICES.get(field)
    if template is not None:
        await links.end_ways_in(call.db, pool, account)
        if field == "email":
            await links.revoke(call.db, pool, account, *EMAIL_LINKS)
        recipient = previous if field == "email" and previous else account.email
        await enqueue_email(call.db, template, recipient, name=account.name)
    return True
