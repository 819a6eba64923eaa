"""The one password check, for sign-in and for every change that needs the current password: one budget per
address, the account's lockout (decided before any hashing slot is taken: a refusal is immediate), one
verification; and setting a new password."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from limits import parse

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import links, repository
from sump.db.base import utcnow
from sump.kit import sealing
from sump.kit.audit import LOAD_CODES
from sump.kit.call import Call
from sump.kit.email.outbox import enqueue_email
from sump.kit.errors import Problem
from sump.kit.lockout import KNOWN_DEVICE
from sump.kit.metrics import counts_sign_ins
from sump.kit.passwords import bcrypt_cost
from sump.kit.ratelimit import address_key
from sump.sessions import service as sessions
from sump.tokens import service as tokens

# One budget per address for every password check: `/login` of both families, the token endpoint's password
# grant, the console's sign-in and each "current password" check; second-factor codes and the options of a
# passwordless passkey sign-in draw on it too.
SIGN_IN_PER_IP = parse("30/minute")


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


@dataclass(frozen=True)
class FirstFactor:
    """A sign-in's password step: the account it matched (None for any wrong pair), the identifier's account
    whether or not it matched (`aimed_at`, for the audit log), a better hash of the password when the stored
    one is weaker than today's, and the lockout's refusal when it held this source back."""

    account: Account | None
    aimed_at: Account | None
    upgraded: str | None = None
    refusal: Problem | None = None


@counts_sign_ins
async def first_factor(call: Call, pool: Pool, kind: str, value: str, password: str) -> FirstFactor:
    """Identifier and password: the per-address budget (429 `rate_limited`), then the pool's account by that
    identifier and the one password check."""
    await call.limiter.hit(SIGN_IN_PER_IP, "sign-in", call.client.ip)
    await repository.read_alone(call.db)  # the pool is kept (`accounts.pools`): this lookup is the first read
    account = await repository.find_account(call.db, pool, **{kind: value})
    await call.end_reads()  # the wait for a hashing thread holds no connection
    unknown = "" if account is not None else identifier_digest(call.settings.secret_key, pool, kind, value)
    try:
        ok, upgraded = await password_matches(call, pool, lockout_subject(pool, account, unknown), account, password)
    except Problem as refusal:
        if refusal.code in LOAD_CODES:
            raise
        return FirstFactor(None, account, refusal=refusal)
    return FirstFactor(account if ok else None, account, upgraded)


def identifier_digest(secret: str, pool: Pool, kind: str, value: str) -> str:
    """What a counter's key keeps of a typed identifier, which may be a password typed in the wrong field: a
    keyed digest, the same for each attempt on it in this pool, never its text."""
    digest = sealing.keyed_digest(secret, sealing.TYPED_IDENTIFIERS, f"{pool.scope_id}:{kind}:{value}".encode())
    return digest[:12].hex()


def lockout_subject(pool: Pool, account: Account | None, unknown: str = "") -> str:
    """What failures are counted under: the account (all its identifiers together), or, when no account holds
    the identifier, its `identifier_digest` (`unknown`), treated exactly alike."""
    if account is not None:
        return f"{pool.account_type.value}:{account.id}"
    if not unknown:
        raise ValueError("failures on an identifier that names no account are counted by its digest")
    return f"{pool.account_type.value}:{pool.scope_id}:{unknown}"


def source(call: Call, account: Account | None) -> str:
    """The lockout's source of this request: a known device of the account, or the client's address (an IPv6
    address by its /64, as the per-IP limits count it)."""
    if account is not None and account.id in call.client.devices:
        return KNOWN_DEVICE
    return f"ip:{address_key(call.client.ip)}"


async def password_matches(
    call: Call, pool: Pool, subject: str, account: Account | None, password: str
) -> tuple[bool, str | None]:
    """The one password check. The account's lockout decides first, before any hashing slot is taken (a
    refusal is immediate, never a wait); then a slot and one verification, counted for or against the
    source. A right password starts the source's count again; second-factor codes are counted apart
    (`factors.service.guarded`), so entering the password again forgets no wrong code."""
    origin = source(call, account)
    wait = await call.lockout.check(subject, origin)
    if wait is not None:
        raise too_many_attempts(wait)
    async with call.hasher.slot():
        ok, upgraded = await call.hasher.verify(
            account.password_hash if account else None, password, pool.legacy_hash_cost
        )
    if account is None or account.disabled or not ok:
        await call.lockout.failed(subject, origin)
        return False, upgraded
    await call.lockout.succeeded(subject, origin)
    return True, upgraded


async def check_current_password(
    call: Call,
    pool: Pool,
    account: Account,
    password: str,
    before_hold: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """For a change that needs the account's current password: the same per-IP budget and per-account
    lockout as a sign-in; 403 `wrong_password` when it does not match. The password stays the one checked until
    the change is written: the account's row is then held as the hash found it, so a new password set while the
    hash was computed (which ended this session) refuses the change, as it would a moment later.
    `before_hold` runs once the password matched and before the row is held: what the change does with no row
    held (a new password's hash) or before the account's row (the ways in it ends, as `accounts.removal` says)."""
    await call.limiter.hit(SIGN_IN_PER_IP, "sign-in", call.client.ip)
    changed_at = account.password_changed_at  # of the password about to be checked
    ok, _ = await password_matches(call, pool, lockout_subject(pool, account), account, password)
    if ok and before_hold is not None:
        await before_hold()
    if not ok or not await repository.hold_if_password_set_at(call.db, pool, account, changed_at):
        raise wrong_password()


async def write_if_still_as_checked(
    call: Call, pool: Pool, account: Account, changed_at: datetime | None, *, last: bool
) -> bool:
    """Writes a sign-in's held rows (its session or its second step's audit row) only if the account's password
    is still the one it checked (set at `changed_at`, as read before the hash was computed with no transaction
    open), it has a second factor or none as then (which chose the step after the password), and the account is
    still enabled, and whether it was. A new password or the disabling, made while the hash was computed, ended
    the sessions and sign-ins it found, and this one was not among them: it is refused instead (on False the
    caller rolls back what else it wrote), so whoever knew the old password does not outlast the change. A first
    factor confirmed meanwhile refuses it too: the password alone no longer signs in. The check locks the
    account's row until the rows are written, and a change writes the row before it ends sessions
    (`replace_password`) or confirms a first factor, so of the two, one waits for the other (on SQLite, the one
    writer at a time)."""
    return await repository.write_if_credential_as_checked(call.db, pool, account, changed_at, last=last)


async def upgrade_hash(call: Call, pool: Pool, account: Account, changed_at: datetime | None, new_hash: str) -> None:
    """Stores a stronger hash of the password just checked, unless a new password was set since (`changed_at`):
    the old password's hash never replaces it. The pool's last imported bcrypt hash gone, its checks no longer
    cost bcrypt's work (`legacy_hash_cost`)."""
    await repository.replace_hash_if_unchanged(call.db, pool, account.id, changed_at, new_hash)
    await _replaced(call, pool, account.password_hash)


async def _replaced(call: Call, pool: Pool, old_hash: str | None) -> None:
    """An imported bcrypt hash was replaced: the pool may hold none any more (`legacy_hash_cost`)."""
    if bcrypt_cost(old_hash) is not None:
        await repository.forget_legacy_cost_if_none_left(call.db, pool)


async def replace_password(
    call: Call, pool: Pool, account: Account, new_hash: str | None, keep: uuid.UUID | None
) -> None:
    """The account's password becomes `new_hash` (None: it has none), and every other session, every refresh token
    (the kept session's too) and every sign-in or reset link ends. The row is written first: a sign-in that
    checked the old password meanwhile waits for it, and is refused (`write_if_still_as_checked`)."""
    old_hash, account.password_hash = account.password_hash, new_hash
    account.password_changed_at = utcnow()
    await call.db.flush()
    await links.end_ways_in(call.db, pool, account)  # first: a sign-in by one of them is waited for, and ended
    await sessions.revoke_all(call.db, account, keep=keep)  # their refresh tokens go with them
    if keep is not None:
        await tokens.revoke_for_session(call.db, keep)
    await _replaced(call, pool, old_hash)


async def set_password(call: Call, pool: Pool, account: Account, new_hash: str, keep: uuid.UUID | None) -> None:
    """A new password (`replace_password`), and the account is told by email."""
    await replace_password(call, pool, account, new_hash, keep)
    await enqueue_email(call.db, "password_changed", account.email, name=account.name)
    await call.db.flush()
