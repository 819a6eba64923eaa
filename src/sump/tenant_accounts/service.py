"""Rules for tenant accounts: unique identifiers per tenant, the role hierarchy, and the last owner.

Hierarchy: owner > admin > user. Owners manage everyone, themselves included (an owner may step down or
leave); admins manage users only and grant only `user`; users manage nothing but their own profile. Whatever
happens, the tenant keeps one enabled owner: the change that would remove the last one answers 409.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import require
from sump.access.pools import tenant_pool
from sump.accounts import removal, verification
from sump.accounts.identity import change_identifier as set_identifier
from sump.accounts.identity import confirm_own_change, enqueue_reset, ensure_identifiers_free
from sump.db.base import utcnow
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.kit import audit
from sump.kit.audit import ref
from sump.kit.call import Call
from sump.kit.errors import Problem, conflict, not_found
from sump.kit.password_policy import DEFAULT_POLICY
from sump.kit.passwords import PasswordHasher
from sump.sessions import service as sessions
from sump.tenant_accounts import policy, repository
from sump.tenant_accounts.schemas import AccountCreate, AccountUpdate, Identification

LAST_OWNER = "The tenant must keep at least one enabled owner."


async def get(db: AsyncSession, actor: TenantActor, account_id: uuid.UUID) -> TenantAccount:
    account = await repository.get(db, actor.tenant_id, account_id)
    if account is None:
        raise not_found("account")
    return account


async def find(db: AsyncSession, actor: TenantActor, query: Identification) -> TenantAccount:
    account = await repository.find(db, actor.tenant_id, email=query.email, phone=query.phone, username=query.username)
    if account is None:
        raise not_found("account")
    return account


async def page(db: AsyncSession, actor: TenantActor, after: uuid.UUID | None, limit: int) -> list[TenantAccount]:
    return await repository.page(db, actor.tenant_id, after, limit)


async def new_account(
    db: AsyncSession,
    hasher: PasswordHasher,
    tenant_id: uuid.UUID,
    body: AccountCreate,
    role: TenantRole,
) -> TenantAccount:
    """Checks the password policy and identifier uniqueness, hashes, and inserts."""
    password_hash = None
    if body.password is not None:
        DEFAULT_POLICY.check(body.password, email=body.email, username=body.username)
    await ensure_identifiers_free(
        db, tenant_pool(tenant_id), email=body.email, phone=body.phone, username=body.username
    )
    if body.password is not None:
        password_hash = await hasher.hash(body.password)
    account = TenantAccount(
        tenant_id=tenant_id,
        email=body.email,
        phone=body.phone,
        username=body.username,
        name=body.name,
        avatar_url=body.avatar_url,
        password_hash=password_hash,
        role=role,
    )
    return await repository.add(db, account)


async def create(db: AsyncSession, hasher: PasswordHasher, actor: TenantActor, body: AccountCreate) -> TenantAccount:
    role = TenantRole.USER
    if body.roles:
        grant = body.roles[0]
        if grant.target_id != actor.tenant_id:
            raise Problem(
                400,
                "role_target_invalid",
                "A role can only target the tenant in the path.",
                errors={"roles.0.targetId": "Must be the id of this tenant."},
            )
        role = grant.role
    require(policy.grant(actor, role))
    require_step_up_to_grant(actor, role)
    account = await new_account(db, hasher, actor.tenant_id, body, role)
    await _audit(db, actor, "tenant_account.created", account, role=role.value)
    return account


def require_step_up_to_grant(actor: TenantActor, role: TenantRole) -> None:
    """Giving an account the power of an owner or admin (creating it so, or inviting into that role) needs a
    step-up from an actor with a second factor, as erasing an account does: a stolen session must not make the
    thief an account that outranks what the session itself may do unchallenged (403 `step_up_required`)."""
    if role is not TenantRole.USER:
        sessions.require_step_up(actor.session, actor.account)


async def ensure_not_last_owner(db: AsyncSession, target: TenantAccount) -> None:
    """Locks the tenant's enabled owners, so concurrent demotions cannot both pass."""
    if target.role is not TenantRole.OWNER or target.disabled:
        return
    owners = await repository.lock_enabled_owners(db, target.tenant_id)
    if not [owner for owner in owners if owner != target.id]:
        raise conflict("last_owner", LAST_OWNER)


async def is_last_owner(db: AsyncSession, target: TenantAccount) -> bool:
    """Whether `target` is the tenant's only enabled owner. A plain read, for showing what is allowed; changes
    go through `ensure_not_last_owner`, which locks."""
    if target.role is not TenantRole.OWNER or target.disabled:
        return False
    return await repository.count_enabled_owners(db, target.tenant_id) <= 1


async def refusal(db: AsyncSession, actor: TenantActor, target: TenantAccount) -> str | None:
    """Why `actor` may not change the role of, disable or delete `target`, in words; None when it may."""
    try:
        require(policy.manage(actor, target))
    except Problem as problem:
        return problem.detail
    return LAST_OWNER if await is_last_owner(db, target) else None


def may_send_reset(actor: TenantActor, target: TenantAccount) -> bool:
    try:
        require(policy.edit(actor, target))
    except Problem:
        return False
    return True


async def send_password_reset(
    db: AsyncSession, actor: TenantActor, account_id: uuid.UUID, *, invitation: bool = False
) -> TenantAccount:
    """Emails the account a link to choose a password: an invitation for an account made without one, or a
    reset. Whoever sends it never sees nor sets the password. Oneself, or an account one manages."""
    account = await get(db, actor, account_id)
    require(policy.edit(actor, account))
    await enqueue_reset(db, tenant_pool(actor.tenant_id), "email", account.email)
    action = "tenant_account.invited" if invitation else "tenant_account.password_reset_sent"
    await _audit(db, actor, action, account)
    return account


async def update(db: AsyncSession, actor: TenantActor, account_id: uuid.UUID, body: AccountUpdate) -> None:
    account = await get(db, actor, account_id)
    require(policy.edit(actor, account))
    for field in body.model_fields_set:
        setattr(account, field, getattr(body, field))
    await _audit(db, actor, "tenant_account.updated", account, fields=sorted(body.model_fields_set))


async def change_identifier(
    call: Call,
    actor: TenantActor,
    account_id: uuid.UUID,
    field: str,
    value: str,
    current_password: str | None = None,
) -> bool:
    """A new email, phone or username. One's own needs one's current password, checked first like a sign-in
    (403 `current_password_required` without it, 403 `wrong_password`, 429 while the lockout holds); an
    account one manages needs none (the role rules decide). The old address is told of an email or phone
    change, and earlier reset links stop working (see `sump.accounts.identity.change_identifier`).

    One's own new email waits for its verification (True: pending; see `sump.accounts.verification`)."""
    account = await get(call.db, actor, account_id)
    require(policy.edit(actor, account))
    if field == "email":
        sessions.require_step_up(actor.session, actor.account)
    pool = tenant_pool(actor.tenant_id)
    own = account.id == actor.account.id
    if own:
        await confirm_own_change(call, pool, account, field, value, current_password)
        if field == "email":
            return await verification.request_change(call, pool, account, value)
    if await set_identifier(call, pool, account, field, value):
        await _audit(call.db, actor, f"tenant_account.{field}_changed", account)
    return False


async def mark_email_verified(call: Call, actor: TenantActor, account_id: uuid.UUID) -> None:
    """An owner or admin vouches for the email of an account they manage (audited)."""
    require(policy.manage_accounts(actor))
    account = await get(call.db, actor, account_id)
    require(policy.manage(actor, account))
    await verification.mark_verified(call, tenant_pool(actor.tenant_id), actor.account, account)


async def change_role(db: AsyncSession, actor: TenantActor, account_id: uuid.UUID, role: TenantRole) -> None:
    account = await get(db, actor, account_id)
    require(policy.manage(actor, account))
    require(policy.grant(actor, role))
    sessions.require_step_up(actor.session, actor.account)  # raising a thief's account, or lowering an owner
    if account.role is role:
        return
    await ensure_not_last_owner(db, account)
    previous, account.role = account.role, role
    await _audit(db, actor, "tenant_account.role_changed", account, previous=previous.value, role=role.value)


async def set_disabled(db: AsyncSession, actor: TenantActor, account_id: uuid.UUID, disabled: bool) -> None:
    account = await get(db, actor, account_id)
    require(policy.manage(actor, account))
    sessions.require_step_up(actor.session, actor.account)  # as deleting it: locking an owner out, or letting in
    if account.disabled is disabled:
        return
    if disabled:  # the ways in first, as a sign-in holds them, then the owners' rows
        await removal.end_sign_ins_in_progress(db, tenant_pool(actor.tenant_id), account)
        await ensure_not_last_owner(db, account)
    account.disabled = disabled
    account.disabled_at = utcnow() if disabled else None
    await db.flush()  # the row first: a sign-in that checked the password meanwhile waits, and is refused
    # Enabling ends sessions too: one that slipped past the disabling (a sign-in's second step, a link) would
    # come back with the account, which starts afresh instead.
    await sessions.revoke_all(db, account)
    await _audit(db, actor, "tenant_account.disabled" if disabled else "tenant_account.enabled", account)


async def delete(db: AsyncSession, actor: TenantActor, account_id: uuid.UUID) -> None:
    account = await get(db, actor, account_id)
    require(policy.manage(actor, account))
    sessions.require_proof_to_delete(actor.session, actor.account, account.id)
    await removal.end_every_way_in(db, tenant_pool(actor.tenant_id), account)  # before any account's row is held
    await ensure_not_last_owner(db, account)
    await sessions.revoke_all(db, account)
    await repository.remove(db, account)
    await _audit(db, actor, "tenant_account.deleted", account)


async def _audit(
    db: AsyncSession, actor: TenantActor, action: str, account: TenantAccount, **details: str | list[str]
) -> None:
    await audit.record(
        db, action, tenant_id=actor.tenant_id, actor=ref(actor.account), target=ref(account), details=details
    )


async def names(db: AsyncSession, actor: TenantActor, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of these accounts of the actor's tenant, by id (others are left out)."""
    return await repository.account_names(db, actor.tenant_id, ids)
