"""What the console asks before showing a control: which roles one may grant, and why one may not act on an
account (the same rules the changes themselves enforce)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.db.tables.audit import AuditEvent
from sump.db.tables.outbox import OutboxKind, OutboxMessage
from sump.db.tables.sessions import Session
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.kit.errors import Problem
from sump.tenant_accounts import policy, service
from tests.support import TenantWorld


async def actor_of(db: AsyncSession, account_id: str) -> TenantActor:
    account = await db.get(TenantAccount, uuid.UUID(account_id), populate_existing=True)
    assert account is not None
    session = await db.scalar(select(Session).where(Session.account_id == account.id).limit(1))
    assert session is not None
    return TenantActor(session, account)


async def account(db: AsyncSession, account_id: str) -> TenantAccount:
    found = await db.get(TenantAccount, uuid.UUID(account_id), populate_existing=True)
    assert found is not None
    return found


async def test_grantable_roles_follow_the_hierarchy(world: TenantWorld, db: AsyncSession) -> None:
    admin = await world.add_member("admin")
    user = await world.add_member("user")
    assert policy.grantable_roles(await actor_of(db, world.owner.account_id)) == list(TenantRole)
    assert policy.grantable_roles(await actor_of(db, admin.account_id)) == [TenantRole.USER]
    assert policy.grantable_roles(await actor_of(db, user.account_id)) == []


async def test_refusal_names_the_reason(world: TenantWorld, db: AsyncSession) -> None:
    admin = await world.add_member("admin")
    user = await world.add_member("user")
    owner = await actor_of(db, world.owner.account_id)
    as_admin = await actor_of(db, admin.account_id)
    as_user = await actor_of(db, user.account_id)

    assert await service.refusal(db, owner, await account(db, world.owner.account_id)) == service.LAST_OWNER
    assert await service.refusal(db, owner, await account(db, user.account_id)) is None
    assert await service.refusal(db, as_admin, await account(db, user.account_id)) is None
    assert await service.refusal(db, as_admin, await account(db, world.owner.account_id)) == (
        "Your role does not allow acting on this account."
    )
    assert await service.refusal(db, as_admin, await account(db, admin.account_id)) == (
        "Only an owner can do this to their own account."
    )
    assert await service.refusal(db, as_user, await account(db, user.account_id)) is not None


async def test_last_owner_follows_the_api(world: TenantWorld, db: AsyncSession) -> None:
    """While the read says "last owner", the API refuses with 409; once it does not, the API allows it."""
    owner_id = world.owner.account_id
    assert await service.is_last_owner(db, await account(db, owner_id))
    refused = await world.http.patch(f"{world.base}/accounts/{owner_id}/disable", headers=world.owner.auth)
    assert refused.status_code == 409

    second = await world.add_member("owner")
    assert not await service.is_last_owner(db, await account(db, owner_id))
    disabled = await world.http.patch(f"{world.base}/accounts/{second.account_id}/disable", headers=world.owner.auth)
    assert disabled.status_code == 204
    # A disabled owner does not count, and is never "the last" itself.
    assert await service.is_last_owner(db, await account(db, owner_id))
    assert not await service.is_last_owner(db, await account(db, second.account_id))


async def test_password_reset_emails_go_where_the_role_reaches(world: TenantWorld, db: AsyncSession) -> None:
    """Oneself or an account one manages; an admin cannot send an owner's reset (it would not see the link,
    but it could push the owner into resetting)."""
    admin = await world.add_member("admin")
    user = await world.add_member("user")
    as_admin = await actor_of(db, admin.account_id)
    as_user = await actor_of(db, user.account_id)
    owner_id, user_id = uuid.UUID(world.owner.account_id), uuid.UUID(user.account_id)

    assert service.may_send_reset(as_admin, await account(db, user.account_id))
    assert not service.may_send_reset(as_admin, await account(db, world.owner.account_id))
    assert not service.may_send_reset(as_user, await account(db, admin.account_id))
    with pytest.raises(Problem) as refused:
        await service.send_password_reset(db, as_admin, owner_id)
    assert refused.value.status == 403
    sent = await service.send_password_reset(db, as_user, user_id)
    assert sent.id == user_id
    await db.flush()
    events = await db.scalars(
        select(AuditEvent.action).where(
            AuditEvent.target_id == user_id, AuditEvent.actor_id == user_id, AuditEvent.action.startswith("tenant_")
        )
    )
    assert list(events) == ["tenant_account.password_reset_sent"]
    queued = await db.scalars(select(OutboxMessage.payload).where(OutboxMessage.kind == OutboxKind.PASSWORD_RESET))
    # Other tests' requests share the table, and one the outbox dropped (its account gone) keeps no payload.
    assert {"kind": "email", "value": user.email} in [{k: p.get(k) for k in ("kind", "value")} for p in queued]
    await db.rollback()
