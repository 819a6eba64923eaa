"""Rules for end users.

The tenant's owners and admins manage the end users of its environments; any tenant account may read them.
An end user reads and changes their own account and may delete it; other end users' accounts do not exist
for them (404). Identifiers are unique per environment.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import EnvironmentActor, TenantActor
from sump.access.policy import require
from sump.access.pools import Pool
from sump.accounts import removal, verification
from sump.accounts.identity import change_identifier as set_identifier
from sump.accounts.identity import confirm_own_change, enqueue_reset, ensure_identifiers_free
from sump.accounts.schemas import Signup
from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.environment_accounts import policy, repository
from sump.environment_accounts.schemas import EndUserCreate, Filters
from sump.environments import service as environments
from sump.kit import audit, custom_properties
from sump.kit.audit import ref
from sump.kit.call import Call
from sump.kit.errors import Problem, not_found
from sump.kit.identifiers import normalize_email, normalize_username
from sump.kit.passwords import PasswordHasher
from sump.sessions import service as sessions


async def get(db: AsyncSession, actor: EnvironmentActor, account_id: uuid.UUID, *, write: bool) -> EnvironmentAccount:
    """The account, if the actor may see it (and, with `write`, change it)."""
    if actor.end_user is not None:
        if actor.end_user.account.id != account_id:
            raise not_found("account")
        return actor.end_user.account
    require(policy.manage(actor) if write else policy.read(actor))
    account = await repository.get(db, actor.environment.id, account_id)
    if account is None:
        raise not_found("account")
    return account


async def enabled(db: AsyncSession, environment_id: uuid.UUID, account_id: uuid.UUID) -> EnvironmentAccount | None:
    """The environment's end user when it exists and is enabled (what a token of theirs may stand for)."""
    account = await repository.get(db, environment_id, account_id)
    return account if account is not None and not account.disabled else None


async def page(
    db: AsyncSession, actor: EnvironmentActor, filters: Filters, after: uuid.UUID | None, limit: int
) -> Sequence[Any]:
    """Rows of what a list shows of each end user (`repository.VIEW_COLUMNS`), not ORM objects."""
    require(policy.read(actor))
    return await repository.page(db, actor.environment.id, filters, after, limit)


async def find(db: AsyncSession, environment_id: uuid.UUID, account_id: uuid.UUID) -> EnvironmentAccount | None:
    """The environment's end user, for another feature's rule that names one (an organization's member)."""
    return await repository.get(db, environment_id, account_id)


async def with_email(db: AsyncSession, environment_id: uuid.UUID, email: str) -> EnvironmentAccount | None:
    """The environment's end user holding this (normalised) email, for another feature's rule that names one
    by address (an invitation)."""
    return await repository.by_identifier(db, environment_id, "email", email)


async def find_by_identifier(db: AsyncSession, actor: EnvironmentActor, identifier: str) -> EnvironmentAccount:
    """The environment's end user with this email (when it has an `@`) or username, typed as a person would
    (any case, spaces around it); 404 `account_not_found` when there is none, or when it cannot be one."""
    require(policy.read(actor))
    text = identifier.strip()
    kind = "email" if "@" in text else "username"
    try:
        value = normalize_email(text) if kind == "email" else normalize_username(text)
    except ValueError:
        raise not_found("account") from None
    account = await repository.by_identifier(db, actor.environment.id, kind, value)
    if account is None:
        raise not_found("account")
    return account


async def new_account(
    db: AsyncSession, hasher: PasswordHasher, pool: Pool, body: EndUserCreate | Signup
) -> EnvironmentAccount:
    assert pool.environment_id is not None
    if body.password is not None:
        pool.policy.check(body.password, email=body.email, username=body.username)
    # Hashed before the identifiers are looked up: a sign-up waits for its hashing thread holding no connection
    # (and a taken identifier costs what a free one does).
    password_hash = await hasher.hash(body.password) if body.password is not None else None
    await ensure_identifiers_free(db, pool, email=body.email, phone=body.phone, username=body.username)
    account = EnvironmentAccount(
        tenant_id=pool.tenant_id,
        environment_id=pool.environment_id,
        email=body.email,
        phone=body.phone,
        username=body.username,
        name=body.name,
        avatar_url=body.avatar_url,
        custom_properties=custom_properties.check_limits(body.custom_properties or {}),
        metadata_=custom_properties.check_limits((body.metadata if isinstance(body, EndUserCreate) else None) or {}),
        password_hash=password_hash,
    )
    return await repository.add(db, account)


async def create(
    db: AsyncSession, hasher: PasswordHasher, actor: EnvironmentActor, body: EndUserCreate
) -> EnvironmentAccount:
    require(policy.manage(actor))
    account = await new_account(db, hasher, environments.pool(actor.environment), body)
    await _audit(db, actor, "end_user.created", account)
    return account


async def update(db: AsyncSession, actor: EnvironmentActor, account_id: uuid.UUID, changes: dict[str, Any]) -> None:
    """Profile fields, and `metadata` (replaced whole), which only the tenant's owners and admins write."""
    account = await get(db, actor, account_id, write=True)
    if "metadata" in changes:
        if actor.end_user is not None:
            detail = "Only the tenant's owners and admins may set metadata."
            raise Problem(403, "admin_only_field", detail, errors={"metadata": detail})
        account.metadata_ = custom_properties.check_limits(changes["metadata"])
    for field, value in changes.items():
        if field != "metadata":
            setattr(account, field, value)
    await _audit(db, actor, "end_user.updated", account, fields=sorted(changes))


async def change_identifier(
    call: Call,
    actor: EnvironmentActor,
    account_id: uuid.UUID,
    field: str,
    value: str,
    current_password: str | None = None,
) -> bool:
    """A new email, phone or username. An end user's own change needs their current password, checked first
    like a sign-in (403 `current_password_required` without it, 403 `wrong_password`, 429 while the lockout
    holds); the tenant's owners and admins need none. The old address is told of an email or phone change,
    and earlier reset links stop working (see `sump.accounts.identity.change_identifier`).

    An end user's own new email waits for its verification (True: pending; see `sump.accounts.verification`)."""
    account = await get(call.db, actor, account_id, write=True)
    if field == "email":
        sessions.require_step_up(actor.session, actor.account)
    pool = environments.pool(actor.environment)
    if actor.end_user is not None:
        await confirm_own_change(call, pool, account, field, value, current_password)
        if field == "email":
            return await verification.request_change(call, pool, account, value)
    if await set_identifier(call, pool, account, field, value):
        await _audit(call.db, actor, f"end_user.{field}_changed", account)
    return False


async def mark_email_verified(call: Call, actor: EnvironmentActor, account_id: uuid.UUID) -> None:
    """The tenant's owners and admins vouch for an end user's email (audited)."""
    require(policy.manage(actor))
    account = await get(call.db, actor, account_id, write=True)
    await verification.mark_verified(call, environments.pool(actor.environment), actor.account, account)


async def set_properties(
    db: AsyncSession, actor: EnvironmentActor, account_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    account = await get(db, actor, account_id, write=True)
    account.custom_properties = custom_properties.merged(account.custom_properties, changes)
    await _audit(db, actor, "end_user.custom_properties_set", account, keys=sorted(changes))


async def delete_property(db: AsyncSession, actor: EnvironmentActor, account_id: uuid.UUID, key: str) -> None:
    account = await get(db, actor, account_id, write=True)
    account.custom_properties = custom_properties.without(account.custom_properties, key)
    await _audit(db, actor, "end_user.custom_property_deleted", account, key=key)


async def set_disabled(db: AsyncSession, actor: EnvironmentActor, account_id: uuid.UUID, disabled: bool) -> None:
    require(policy.manage(actor))
    account = await get(db, actor, account_id, write=True)
    if account.disabled is disabled:
        return
    if disabled:  # the ways in first, as a sign-in holds them
        await removal.end_sign_ins_in_progress(db, environments.pool(actor.environment), account)
    account.disabled = disabled
    account.disabled_at = utcnow() if disabled else None
    await db.flush()  # the row first: a sign-in that checked the password meanwhile waits, and is refused
    # Enabling ends sessions too: one that slipped past the disabling (a sign-in's second step, a link) would
    # come back with the account, which starts afresh instead.
    await sessions.revoke_all(db, account)
    await _audit(db, actor, "end_user.disabled" if disabled else "end_user.enabled", account)


async def revoke_sessions(db: AsyncSession, actor: EnvironmentActor, account_id: uuid.UUID) -> int:
    require(policy.manage(actor))
    account = await get(db, actor, account_id, write=True)
    await _audit(db, actor, "end_user.sessions_revoked", account)
    return await sessions.revoke_all(db, account)


async def send_password_reset(db: AsyncSession, actor: EnvironmentActor, account_id: uuid.UUID) -> None:
    """Emails the account a reset link; admins can trigger a reset but never see or set the password."""
    require(policy.manage(actor))
    account = await get(db, actor, account_id, write=True)
    await enqueue_reset(db, environments.pool(actor.environment), "email", account.email)
    await _audit(db, actor, "end_user.password_reset_sent", account)


async def delete(db: AsyncSession, actor: EnvironmentActor, account_id: uuid.UUID) -> None:
    """Deletes the account; its sessions and reset tokens go with it. Its ways in end first
    (`removal.end_every_way_in`): a sign-in holding one is waited for, and its session goes too."""
    account = await get(db, actor, account_id, write=True)
    sessions.require_proof_to_delete(actor.session, actor.account, account.id)
    await removal.end_every_way_in(db, environments.pool(actor.environment), account)
    organizations = await repository.remove(db, account)
    await _audit(db, actor, "end_user.deleted", account)
    for organization_id in organizations:  # each organization's own log shows its member gone
        await _audit(db, actor, "membership.removed", account, organization_id, reason="account_deleted")


async def _audit(
    db: AsyncSession,
    actor: EnvironmentActor,
    action: str,
    account: EnvironmentAccount,
    organization_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    await audit.record(
        db,
        action,
        tenant_id=actor.environment.tenant_id,
        environment_id=actor.environment.id,
        organization_id=organization_id,
        actor=ref(actor.account),
        target=ref(account),
        details=details,
    )


async def count(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> int:
    """How many end users an environment of the actor's tenant holds (what deleting it would take along)."""
    environment = await environments.get(db, actor, environment_id)
    return await repository.count(db, environment.id)
