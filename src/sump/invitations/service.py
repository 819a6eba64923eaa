"""The rows behind every kind of invitation: made with a random token (shown once, in the email; stored as its
SHA-256), valid 7 days, resent with a new token (the link sent before dies), revoked, and accepted once (a
conditional UPDATE: of concurrent acceptances one wins). Who may invite whom, and what accepting makes, is the
rule of the feature each kind joins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from limits import RateLimitItem, parse
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.links import Invitation, InvitationKind
from sump.invitations import repository
from sump.kit.crypto import new_token, token_digest
from sump.kit.errors import Problem, not_found
from sump.kit.ratelimit import RateLimiter

INVITATION_TTL = timedelta(days=7)
DAYS = INVITATION_TTL.days
MAX_TOKEN_LENGTH = 256
# An invitation is an email in Sump's name to an address its sender chose: one address gets a few from one tenant,
# environment or organization, whoever sends them, and one account sends at most this many an hour (invitations
# and resends).
SENT_PER_ADDRESS = parse("3/15minutes")
SENT_PER_SENDER = parse("100/hour")


async def within_sending_limits(
    limiter: RateLimiter,
    place: uuid.UUID,
    email: str,
    sender: uuid.UUID | None,
    per_sender: RateLimitItem = SENT_PER_SENDER,
) -> None:
    """Counts one invitation email to `email` from `place` (a tenant, an environment or an organization), sent by
    `sender` (None: a sender not counted) under `per_sender`, before anything is changed: 429 `rate_limited` past
    either limit, which stay on when per-address limits are off."""
    if sender is not None:
        await limiter.enforce(per_sender, "invitations-sent", str(sender))
    await limiter.enforce(SENT_PER_ADDRESS, "invitations-to", str(place), email.lower())


def invalid_invitation() -> Problem:
    return Problem(400, "invalid_token", "This invitation is invalid, used, revoked or expired.")


@dataclass(frozen=True)
class Issued:
    invitation: Invitation
    token: str  # shown once, in the email


async def issue(
    db: AsyncSession,
    kind: InvitationKind,
    *,
    tenant_id: uuid.UUID,
    email: str,
    role: str | None,
    invited_by: uuid.UUID | None,
    environment_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    environment_account_id: uuid.UUID | None = None,
) -> Issued:
    """A new invitation; a pending one of the same kind, place and address is revoked (its link dies)."""
    now = utcnow()
    await withdraw(db, tenant_id, kind, email, environment_id=environment_id, organization_id=organization_id)
    token = new_token()
    invitation = Invitation(
        token_hash=token_digest(token),
        kind=kind,
        tenant_id=tenant_id,
        environment_id=environment_id,
        organization_id=organization_id,
        environment_account_id=environment_account_id,
        email=email,
        role=role,
        invited_by=invited_by,
        expires_at=now + INVITATION_TTL,
        created_at=now,
        updated_at=now,
    )
    return Issued(await repository.add(db, invitation), token)


async def get(db: AsyncSession, tenant_id: uuid.UUID, invitation_id: uuid.UUID, kind: InvitationKind) -> Invitation:
    """The tenant's invitation of this kind, pending or not; 404 otherwise."""
    invitation = await repository.get(db, tenant_id, invitation_id)
    if invitation is None or invitation.kind is not kind:
        raise not_found("invitation")
    return invitation


async def pending(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    kind: InvitationKind,
    *,
    environment_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    email: str | None = None,
) -> list[Invitation]:
    return await repository.pending(
        db, tenant_id, kind, environment_id=environment_id, organization_id=organization_id, email=email
    )


async def withdraw(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    kind: InvitationKind,
    email: str,
    *,
    environment_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> None:
    """Revokes the address's pending invitations of this kind to this place: a newer one replaces them, or its
    membership was decided otherwise (added, removed, left), which an older link must not undo."""
    now = utcnow()
    for earlier in await repository.pending(
        db, tenant_id, kind, environment_id=environment_id, organization_id=organization_id, email=email
    ):
        earlier.revoked_at = now


def not_pending() -> Problem:
    return Problem(409, "invitation_not_pending", "This invitation was already accepted or revoked.")


async def renew(invitation: Invitation) -> str:
    """A new token and 7 more days for a pending invitation: the link sent before stops working."""
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise not_pending()
    token, now = new_token(), utcnow()
    invitation.token_hash = token_digest(token)
    invitation.expires_at = now + INVITATION_TTL
    invitation.updated_at = now
    return token


def revoke(invitation: Invitation) -> None:
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise not_pending()
    invitation.revoked_at = utcnow()


async def open_invitation(
    db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID | None, token: str, *kinds: InvitationKind
) -> Invitation:
    """The live invitation of this token in this tenant (and environment): 400 `invalid_token` for any other
    (unknown, accepted, revoked, expired, of another tenant or environment, of another kind)."""
    found = None
    if len(token) <= MAX_TOKEN_LENGTH:
        found = await repository.live(db, tenant_id, environment_id, token_digest(token), utcnow())
    if found is None or found.kind not in kinds:
        raise invalid_invitation()
    return found


async def close(db: AsyncSession, invitation: Invitation, account_id: uuid.UUID) -> None:
    """Uses the invitation up for `account_id`: of concurrent acceptances only one gets past this."""
    if not await repository.accept(db, invitation.id, account_id, utcnow()):
        raise invalid_invitation()
