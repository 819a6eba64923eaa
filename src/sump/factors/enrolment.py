"""An account's own factors: enrol TOTP (secret shown once, confirmed with a first code), list, remove, and
recovery codes (ten, shown once with the first factor, regenerable). Changing the factors of an account that
has one needs step-up with one of them; enrolling the first needs a recent sign-in or the password again
(`sump.sessions.service.require_recent_proof`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.policy import require
from sump.access.pools import Pool
from sump.accounts import removal
from sump.db.base import utcnow, uuid7
from sump.db.tables.factors import Factor, FactorPolicy, RecoveryCode
from sump.db.tables.sessions import Session
from sump.factors import codes, kinds, policy, repository, totp
from sump.factors.service import guarded, owner_columns, seal_seed, seed_of
from sump.kit.call import Call
from sump.kit.email.outbox import enqueue_email
from sump.kit.errors import Problem, not_found
from sump.sessions import service as sessions

ISSUER = "Sump"
MAX_PENDING = 5


@dataclass(frozen=True)
class TotpSetup:
    """A TOTP factor waiting for its first code, with its secret (shown this once)."""

    factor: Factor
    secret: str
    uri: str
    qr_svg: str


@dataclass(frozen=True)
class Confirmed:
    factor: Factor
    recovery_codes: list[str] | None  # with the account's first factor


@dataclass(frozen=True)
class Listing:
    factors: list[Factor]
    recovery_codes_left: int


def guard(pool: Pool, session: Session | None, account: Account) -> None:
    """A change of the account's factors: allowed by the pool's policy, and proved again in this session (an
    enrolment challenge, `session` None, is a sign-in in progress whose password was just entered)."""
    require(policy.enrol(pool))
    if session is not None:
        sessions.require_recent_proof(session, account)


async def begin_totp(call: Call, pool: Pool, session: Session | None, account: Account, label: str | None) -> TotpSetup:
    """A new TOTP secret, sealed at rest, pending until its first code; earlier pending ones beyond a few go."""
    guard(pool, session, account)
    pending = [
        f for f in await repository.factors(call.db, pool, account.id, confirmed=False) if f.confirmed_at is None
    ]
    for stale in pending[: max(0, len(pending) - MAX_PENDING + 1)]:
        await repository.delete_factor(call.db, pool, account.id, stale.id)
    seed = totp.new_seed()
    factor_id = uuid7()
    factor = Factor(
        id=factor_id,
        kind=kinds.TOTP.name,
        label=label,
        secret=seal_seed(call, factor_id, seed),
        data={},
        **owner_columns(pool, account),
    )
    await repository.add(call.db, factor)
    uri = totp.uri(seed, account.email, ISSUER)
    return TotpSetup(factor, seed, uri, totp.qr_svg(uri))


async def confirm_totp(
    call: Call, pool: Pool, session: Session | None, account: Account, factor_id: uuid.UUID, code: str
) -> Confirmed:
    """The first code of a pending TOTP factor: it is enrolled, and the account's first factor comes with ten
    recovery codes. A wrong code counts toward the lockout (403 `invalid_code`)."""
    guard(pool, session, account)
    factor = await repository.factor(call.db, pool, account.id, factor_id)
    if factor is None or factor.confirmed_at is not None or factor.secret is None:
        raise not_found("factor")
    sealed = factor.secret

    async def attempt() -> bool:
        step = totp.matching_step(seed_of(call, factor.id, sealed), code, factor.last_step)
        return step is not None and await repository.claim_step(call.db, factor.id, step, utcnow())

    await guarded(call, pool, account, attempt, 403)
    factor.confirmed_at = utcnow()
    return await confirmed(call, pool, session, account, factor)


async def confirmed(call: Call, pool: Pool, session: Session | None, account: Account, factor: Factor) -> Confirmed:
    """A factor just enrolled (and so used): the account asks for one at sign-in from now on, its first factor
    comes with ten recovery codes, the session that enrolled it is stepped up, and the account is told by
    email."""
    first = not account.has_factors
    account.has_factors = True
    if session is not None:
        sessions.elevate(session)  # a factor was just used
    fresh = await _new_codes(call, pool, account) if first else None
    await enqueue_email(call.db, "factor_added", account.email, name=account.name, what=_described(factor))
    return Confirmed(factor, fresh)


def _described(factor: Factor) -> str:
    """How an email names a factor."""
    return "a passkey" if factor.kind == kinds.WEBAUTHN.name else "an authenticator app"


async def listing(call: Call, pool: Pool, account: Account) -> Listing:
    return await listing_in(call.db, pool, account)


async def listing_in(db: AsyncSession, pool: Pool, account: Account) -> Listing:
    """The account's confirmed factors and how many recovery codes it has left (a read: no `Call` needed)."""
    return Listing(await repository.factors(db, pool, account.id), await repository.unused_codes(db, pool, account.id))


async def remove(call: Call, pool: Pool, session: Session, account: Account, factor_id: uuid.UUID) -> None:
    """Removes one factor (step-up first); with the last one go the recovery codes, and sign-in asks for no
    second step again (unless the policy requires one). The account is told by email of a confirmed factor's
    removal (a pending one never counted)."""
    sessions.require_step_up(session, account)
    factor = await repository.factor(call.db, pool, account.id, factor_id)
    if factor is None:
        raise not_found("factor")
    confirmed, what = factor.confirmed_at is not None, _described(factor)
    if not await repository.delete_factor(call.db, pool, account.id, factor_id):
        raise not_found("factor")
    last = not await repository.confirmed_count(call.db, pool, account.id)
    if last:
        account.has_factors = False
        await repository.delete_codes(call.db, pool, account.id)
    if confirmed:
        required = pool.factor_policy is FactorPolicy.REQUIRED
        context = {"what": what, "last": last, "required": required}
        await enqueue_email(call.db, "factor_removed", account.email, name=account.name, **context)


async def regenerate_codes(call: Call, pool: Pool, session: Session, account: Account) -> list[str]:
    """Ten new recovery codes (step-up first); the old ones stop working."""
    if not account.has_factors:
        raise Problem(403, "no_factor", "Recovery codes come with a second factor: enrol one first.")
    sessions.require_step_up(session, account)
    return await _new_codes(call, pool, account)


async def _new_codes(call: Call, pool: Pool, account: Account) -> list[str]:
    await repository.delete_codes(call.db, pool, account.id)
    fresh = codes.generate()
    for code in fresh:
        digest = codes.digest(call.settings.secret_key, account.id, code)
        await repository.add(call.db, RecoveryCode(code_hash=digest, **owner_columns(pool, account)))
    return fresh


async def reset(call: Call, pool: Pool, account: Account) -> int:
    """Removes every factor, recovery code and open challenge of the account (an admin's reset, audited by
    its caller); the number of factors removed."""
    removed = await removal.end_factors(call.db, pool, account)
    account.has_factors = False
    return removed


async def tell_reset(call: Call, pool: Pool, account: Account, *, by_reset: bool) -> None:
    """Emails the account that its factors were removed: by an admin, or by a password reset that proved the
    mailbox (`by_reset`)."""
    required = pool.factor_policy is FactorPolicy.REQUIRED
    await enqueue_email(
        call.db, "factors_reset", account.email, name=account.name, required=required, by_reset=by_reset
    )
