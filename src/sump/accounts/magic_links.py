"""Magic links, asked for: an end user gives an identifier and, where the environment allows magic links, the
account it names (if any, and enabled) is emailed a single-use sign-in link valid 15 minutes. The answer, its
cost and its limits are those of a forgotten password (`sump.accounts.requests`), whether or not the account
exists. Following the link is a sign-in's first step (`sump.auth.service.sign_in_with_link`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from limits import parse
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import links, requests
from sump.accounts.schemas import MagicLinkRequest
from sump.config import Settings
from sump.db.tables.links import LinkPurpose
from sump.db.tables.outbox import OutboxKind
from sump.kit.call import Call
from sump.kit.email.mailers import Email
from sump.kit.email.outbox import Preparer
from sump.kit.email.templates import render
from sump.kit.errors import Problem
from sump.kit.ratelimit import RateLimiter

LINK_TTL = timedelta(minutes=15)
PER_IP = parse("10/minute")
SIGN_IN_PER_IP = parse("10/minute")  # links followed, as reset and verification links are counted
PER_IDENTIFIER = PER_ACCOUNT = parse("3/15minutes")
ANSWER = "If an account exists with this identifier, a sign-in link has been sent."
AMR = "email"  # what a session signed in by a magic link carries in `amr`


def disabled() -> Problem:
    return Problem(403, "magic_links_disabled", "Sign-in links are turned off for this environment.")


def ensure_enabled(pool: Pool) -> None:
    if not pool.magic_links or pool.environment_id is None:
        raise disabled()


async def request_link(call: Call, pool: Pool, body: MagicLinkRequest) -> None:
    """403 `magic_links_disabled` where the environment has them off; else the request is queued (10 a minute
    per address, 3 in 15 minutes per identifier, and 3 links in 15 minutes per account) and answered alike
    whether or not the account exists."""
    ensure_enabled(pool)
    await requests.ask(
        call,
        pool,
        body,
        OutboxKind.MAGIC_LINK,
        name="magic-link",
        per_ip=PER_IP,
        per_identifier=PER_IDENTIFIER,
        action="login.link_requested",
    )


def magic_link_preparer(settings: Settings, limiter: RateLimiter) -> Preparer:
    """The outbox step that turns a request into a link and its email, or into nothing (no such account, a
    disabled one, or magic links turned off meanwhile)."""

    async def email_for(db: AsyncSession, pool: Pool, account: Account, now: datetime) -> Email | None:
        if account.disabled or not pool.magic_links:
            return None
        token = await links.issue(db, pool, account, LinkPurpose.MAGIC_LINK, LINK_TTL, email=account.email, now=now)
        link = links.page_link(settings, pool, "magic-link", token)
        minutes = int(LINK_TTL.total_seconds() // 60)
        return render("magic_link", account.email, name=account.name, link=link, minutes=minutes)

    return requests.account_preparer(email_for, limiter, PER_ACCOUNT, "magic-link")
