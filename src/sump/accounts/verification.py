"""Verified emails, the same for both account families: the link that verifies an account's email (sent at
sign-up when the environment says so, and again on request), an email change that takes effect only once the
new address is verified and that the old address can cancel, and an admin marking an email verified.

Every link is a single-use link of `sump.accounts.links`, valid 24 hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from limits import parse

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import links
from sump.accounts.identity import ensure_identifiers_free
from sump.db.tables.links import LinkPurpose
from sump.kit import audit
from sump.kit.audit import Ref, ref
from sump.kit.call import Call
from sump.kit.email.outbox import enqueue_email
from sump.kit.errors import Problem
from sump.sessions import service as sessions

VERIFY_TTL = timedelta(hours=24)
RESEND_PER_IP = VERIFY_PER_IP = parse("10/minute")
RESEND_PER_ACCOUNT = parse("3/hour")
CHANGES_PER_ACCOUNT = parse("5/hour")
CHANGES_TO_ADDRESS = parse("3/hour")
VERIFIED_ANSWER = "Your email address is verified."
RESEND_ANSWER = "A verification link is on its way to your email address."
CHANGE_ANSWER = "A link to confirm the new address is on its way to it; the email changes once it is followed."
CANCELLED_ANSWER = "The email change was cancelled."
HOURS = int(VERIFY_TTL.total_seconds() // 3600)


def _family(pool: Pool) -> str:
    return "end_user" if pool.environment_id else "tenant_account"


async def _audit(
    call: Call, pool: Pool, action: str, account: Account, actor: Ref | None = None, **details: Any
) -> None:
    await audit.record(
        call.db,
        f"{_family(pool)}.{action}",
        tenant_id=pool.tenant_id,
        environment_id=pool.environment_id,
        actor=actor or ref(account),
        target=ref(account),
        details=details,
    )


async def send_link(call: Call, pool: Pool, account: Account) -> None:
    """Emails the account a link that verifies its current email (the link sent before dies)."""
    token = await links.issue(call.db, pool, account, LinkPurpose.VERIFY_EMAIL, VERIFY_TTL, email=account.email)
    link = links.page_link(call.settings, pool, "verify-email", token)
    await enqueue_email(call.db, "verify_email", account.email, name=account.name, link=link, hours=HOURS)


async def after_sign_up(call: Call, pool: Pool, account: Account) -> None:
    """A new end user gets a verification link unless the environment turned that off."""
    if pool.verify_email_on_signup and not account.email_verified:
        await send_link(call, pool, account)


def already_verified() -> Problem:
    return Problem(409, "email_already_verified", "Your email address is already verified.")


async def resend(call: Call, pool: Pool, account: Account) -> None:
    """The signed-in account asks for a new verification link: at most 10 a minute per address and 3 an hour
    per account (429); 409 `email_already_verified` once it is."""
    await call.limiter.hit(RESEND_PER_IP, f"{_family(pool)}-verify-resend", call.client.ip)
    if account.email_verified:
        raise already_verified()
    await call.limiter.enforce(RESEND_PER_ACCOUNT, "verify-resend", str(account.id))
    await send_link(call, pool, account)
    await _audit(call, pool, "verification_sent", account)


async def verify(call: Call, pool: Pool, token: str) -> Account:
    """Follows a verification link: the account's email is verified (or, for an email change, the new address
    becomes the account's email, verified). 400 `invalid_token` for any other token, 409 `identifier_taken`
    when another account took the new address meanwhile."""
    await call.limiter.hit(VERIFY_PER_IP, f"{_family(pool)}-verify", call.client.ip)
    try:
        link, account = await links.redeem(call.db, pool, token, LinkPurpose.VERIFY_EMAIL, LinkPurpose.CHANGE_EMAIL)
        if link.purpose is LinkPurpose.VERIFY_EMAIL:
            if link.email != account.email:  # the email changed since the link was sent
                raise links.invalid_token()
            account.email_verified = True
            await _audit(call, pool, "email_verified", account)
            return account
        assert link.email is not None
        await ensure_identifiers_free(call.db, pool, account.id, email=link.email)
    except Problem as problem:
        audit.record_failure(
            call,
            f"{_family(pool)}.email_verification_failed",
            problem,
            tenant_id=pool.tenant_id,
            environment_id=pool.environment_id,
        )
        raise
    account.email, account.email_verified = link.email, True
    await links.end_ways_in(call.db, pool, account)
    await links.revoke(call.db, pool, account, LinkPurpose.VERIFY_EMAIL)
    await links.end_the_way_back_to(call.db, pool, account, link.email)
    await _audit(call, pool, "email_changed", account, confirmed=True)
    return account


async def request_change(call: Call, pool: Pool, account: Account, email: str) -> bool:
    """An account's own new email: nothing changes yet. The new address gets a link that makes the change
    (24 hours); the old address is told, with a link that cancels it (24 hours). 409 when another account
    holds the address; False when it is the account's email already."""
    if email == account.email:
        await links.revoke(call.db, pool, account, LinkPurpose.CHANGE_EMAIL)
        return False
    await ensure_identifiers_free(call.db, pool, account.id, email=email)
    # Each request mails an address its account chose: a few an hour per account and per address, which stay on
    # when per-address request limits are off (as invitations' do).
    await call.limiter.enforce(CHANGES_PER_ACCOUNT, "email-change", str(account.id))
    place = str(pool.environment_id or pool.tenant_id)
    await call.limiter.enforce(CHANGES_TO_ADDRESS, "email-change-to", place, email.lower())
    confirm = await links.issue(call.db, pool, account, LinkPurpose.CHANGE_EMAIL, VERIFY_TTL, email=email)
    cancel = await links.issue(call.db, pool, account, LinkPurpose.CANCEL_EMAIL_CHANGE, VERIFY_TTL, email=account.email)
    await enqueue_email(
        call.db,
        "confirm_email_change",
        email,
        name=account.name,
        link=links.page_link(call.settings, pool, "verify-email", confirm),
        hours=HOURS,
    )
    await enqueue_email(
        call.db,
        "email_change_requested",
        account.email,
        name=account.name,
        link=links.page_link(call.settings, pool, "cancel-email-change", cancel),
        hours=HOURS,
    )
    await _audit(call, pool, "email_change_requested", account)
    return True


async def cancel_change(call: Call, pool: Pool, token: str) -> Account:
    """Follows the cancel link sent to the old address: a change not yet confirmed dies; one already made is
    undone (the old address is the account's email again, verified, and every session ends, since whoever
    changed it may hold one). 400 `invalid_token`; 409 when another account took the old address meanwhile.

    After a chain of changes (A to B, then B to C) both A and B hold a cancel link: the earlier address wins.
    Following A's ends B's, which would take the account back from A; following B's leaves A's alive."""
    await call.limiter.hit(VERIFY_PER_IP, f"{_family(pool)}-verify", call.client.ip)
    link, account = await links.redeem(call.db, pool, token, LinkPurpose.CANCEL_EMAIL_CHANGE)
    assert link.email is not None
    await links.revoke(call.db, pool, account, LinkPurpose.CHANGE_EMAIL)
    await links.revoke(call.db, pool, account, LinkPurpose.CANCEL_EMAIL_CHANGE, since=link.created_at)
    reverted = account.email != link.email
    if reverted:
        await ensure_identifiers_free(call.db, pool, account.id, email=link.email)
        account.email, account.email_verified = link.email, True
        await links.end_ways_in(call.db, pool, account)
        await links.revoke(call.db, pool, account, LinkPurpose.VERIFY_EMAIL)
        await sessions.revoke_all(call.db, account)
    await _audit(call, pool, "email_change_cancelled", account, reverted=reverted)
    return account


async def mark_verified(call: Call, pool: Pool, actor: Account, account: Account) -> None:
    """An owner or admin vouches for an account's email (the caller's policy decides who may); audited."""
    if account.email_verified:
        return
    account.email_verified = True
    await links.revoke(call.db, pool, account, LinkPurpose.VERIFY_EMAIL)
    await _audit(call, pool, "email_marked_verified", account, actor=ref(actor))
