"""Sign-in and everything around a session, the same for tenant accounts and end users (see `Pool`).

Each use case is one function that does all of it (limits, lockout, hashing slot, session rotation, audit of
success and failure, the outbox's wake-up); API routes, console pages and the token endpoint's password grant
are adapters over these functions, so a step added here is taken on every path.

Every failed sign-in, whether the account is unknown, has no password, is disabled or the password is wrong,
costs one full hash verification and answers the same 401. Password resets live in `sump.auth.reset`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from limits import parse

from sump.audit import service as audit
from sump.audit.service import Ref, ref
from sump.auth import repository
from sump.auth.pools import Pool
from sump.auth.schemas import ChangePassword, Login, Signup
from sump.db.base import utcnow
from sump.environment_accounts import service as end_users
from sump.kit.call import Call
from sump.kit.email.outbox import enqueue_email
from sump.kit.errors import Problem, forbidden, not_found
from sump.kit.lockout import KNOWN_DEVICE
from sump.sessions import service as sessions
from sump.sessions.models import Session
from sump.sessions.repository import Account

# One budget per address for every password check: `/login` of both families, the token endpoint's password
# grant, the console's sign-in and each "current password" check.
SIGN_IN_PER_IP = parse("30/minute")
SIGNUP_PER_IP = parse("10/minute")
# Refusals for load are not attempts on an account: they are neither counted nor audited as failed sign-ins.
LOAD_CODES = frozenset({"rate_limited", "overloaded"})


@dataclass(frozen=True)
class SignedIn:
    account: Account
    issued: sessions.Issued


def invalid_credentials() -> Problem:
    return Problem(401, "invalid_credentials", "Invalid credentials.")


def wrong_password() -> Problem:
    message = "The current password is not correct."
    return Problem(403, "wrong_password", message, errors={"currentPassword": message})


def too_many_attempts(seconds: int) -> Problem:
    return Problem(
        429,
        "too_many_attempts",
        "Too many failed attempts. Try again later.",
        headers={"Retry-After": str(seconds)},
    )


def lockout_subject(pool: Pool, account: Account | None, kind: str = "", value: str = "") -> str:
    """What failures are counted under: the account (all its identifiers together), or the identifier when
    no account holds it, treated exactly alike."""
    if account is not None:
        return f"{pool.account_type.value}:{account.id}"
    return f"{pool.account_type.value}:{pool.scope_id}:{kind}:{value}"


def _source(call: Call, account: Account | None) -> str:
    return KNOWN_DEVICE if account is not None and account.id in call.client.devices else f"ip:{call.client.ip}"


async def _password_matches(
    call: Call, subject: str, account: Account | None, password: str
) -> tuple[bool, str | None]:
    """The one password check. The account's lockout decides first, before any hashing slot is taken (a
    refusal is immediate, never a wait); then a slot and one verification, counted for or against the
    source."""
    source = _source(call, account)
    wait = await call.lockout.check(subject, source)
    if wait is not None:
        raise too_many_attempts(wait)
    async with call.hasher.slot():
        ok, upgraded = await call.hasher.verify(account.password_hash if account else None, password)
    ok = ok and account is not None and not account.disabled
    if ok:
        await call.lockout.succeeded(subject, source)
    else:
        await call.lockout.failed(subject, source)
    return ok, upgraded


def _audit_failure(
    call: Call, action: str, problem: Problem, pool: Pool, account: Account | None = None, **details: Any
) -> None:
    if problem.code not in LOAD_CODES:
        target = ref(account) if account is not None else None
        audit.record_failure(
            call,
            action,
            problem,
            tenant_id=pool.tenant_id,
            environment_id=pool.environment_id,
            target=target,
            **details,
        )


async def _audit(call: Call, pool: Pool, action: str, account: Account | None, **details: Any) -> None:
    who = ref(account) if account is not None else None
    await audit.record(
        call.db,
        action,
        tenant_id=pool.tenant_id,
        environment_id=pool.environment_id,
        actor=who,
        target=who,
        details=details,
    )


async def sign_in(
    call: Call, pool: Pool, body: Login, *, channel: str = "api", previous_token: str | None = None
) -> SignedIn:
    """Email, phone or username and password → a new session (the previous one of this client, if given,
    ends). 401 for any wrong pair, 429 while the lockout holds this source, 503 when hashing is full."""
    kind, value = body.chosen()
    await call.limiter.hit(SIGN_IN_PER_IP, "sign-in", call.client.ip)
    account: Account | None = None
    try:
        account = await repository.find_account(call.db, pool, **{kind: value})
        subject = lockout_subject(pool, account, kind, value)
        ok, upgraded = await _password_matches(call, subject, account, body.password)
        if not ok or account is None:
            raise invalid_credentials()
    except Problem as problem:
        _audit_failure(
            call, "login.failed", problem, pool, account, identifier_kind=kind, identifier=value, channel=channel
        )
        raise
    if upgraded:
        account.password_hash = upgraded
    if previous_token:
        await sessions.revoke_token(call.db, previous_token)
    issued = await sessions.issue(call.db, call.settings, account, call.client)
    await _audit(call, pool, "login.succeeded", account, identifier_kind=kind, channel=channel)
    return SignedIn(account, issued)


async def sign_up(call: Call, pool: Pool, body: Signup) -> SignedIn:
    """Creates an end user and signs them in (403 when the environment has sign-up turned off)."""
    await call.limiter.hit(SIGNUP_PER_IP, "environment-signup", call.client.ip)
    if not pool.signup_enabled or pool.environment_id is None:
        raise forbidden("signup_disabled", "Sign-up is turned off for this environment.")
    async with call.hasher.slot():
        account = await end_users.new_account(call.db, call.hasher, pool, body)
    issued = await sessions.issue(call.db, call.settings, account, call.client)
    await _audit(call, pool, "signup", account)
    return SignedIn(account, issued)


async def check_current_password(call: Call, pool: Pool, account: Account, password: str) -> None:
    """For a change that needs the account's current password: the same per-IP budget and per-account
    lockout as a sign-in; 403 `wrong_password` when it does not match."""
    await call.limiter.hit(SIGN_IN_PER_IP, "sign-in", call.client.ip)
    ok, _ = await _password_matches(call, lockout_subject(pool, account), account, password)
    if not ok:
        raise wrong_password()


async def change_password(call: Call, pool: Pool, session: Session, account: Account, body: ChangePassword) -> None:
    """Needs the current password; keeps this session and revokes the others; tells the account by email."""
    try:
        await check_current_password(call, pool, account, body.current_password)
        pool.policy.check(body.new_password, email=account.email, username=account.username)
        new_hash = await call.hasher.hash(body.new_password)
    except Problem as problem:
        _audit_failure(call, "password.change_failed", problem, pool, account)
        raise
    await set_password(call, account, new_hash, keep=session.id)
    await _audit(call, pool, "password.changed", account)


async def set_password(call: Call, account: Account, new_hash: str, keep: uuid.UUID | None) -> None:
    """A new password: every other session ends and the account is told by email."""
    account.password_hash = new_hash
    account.password_changed_at = utcnow()
    await sessions.revoke_all(call.db, account, keep=keep)
    await enqueue_email(call.db, "password_changed", account.email, name=account.name)
    call.wake_outbox()
    await call.db.flush()


async def _audit_own(call: Call, session: Session, account: Account, action: str, **details: Any) -> None:
    """An event of the signed-in account about its own sessions."""
    await audit.record(
        call.db,
        action,
        tenant_id=session.tenant_id,
        environment_id=session.environment_id,
        actor=ref(account),
        target=Ref("session", details.pop("session_id")) if "session_id" in details else ref(account),
        details=details,
    )


async def sign_out(call: Call, session: Session, account: Account) -> None:
    """Ends this session."""
    await sessions.revoke(call.db, session, session.id)
    await _audit_own(call, session, account, "logout")


async def revoke_session(call: Call, session: Session, account: Account, session_id: uuid.UUID) -> None:
    """Ends one session of the signed-in account; another account's session id answers 404."""
    if not await sessions.revoke(call.db, session, session_id):
        raise not_found("session")
    await _audit_own(call, session, account, "session.revoked", session_id=session_id)


async def revoke_all_sessions(call: Call, session: Session, account: Account, *, keep_this: bool) -> int:
    """Ends every session of the signed-in account, or every other one when `keep_this`."""
    revoked = await sessions.revoke_all(call.db, account, keep=session.id if keep_this else None)
    kept = {"kept": str(session.id)} if keep_this else {}
    await _audit_own(call, session, account, "logout_all", revoked=revoked, **kept)
    return revoked
