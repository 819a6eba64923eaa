"""A sign-in's steps after the first factor, and step-up: the challenge that stands between two steps, the one
check of a second factor (TOTP or a recovery code), and what a session signed in that way carries (`amr`).

A challenge is a random token shown once, stored as its SHA-256, bound to its pool (tenant or environment)
and account, valid five minutes, and used once: the step that answers it deletes it with a conditional DELETE,
so of concurrent answers one wins. Its token is never logged nor audited. A wrong code leaves the challenge
open and counts toward the account's lockout like a wrong password (the same subject and sources), so guessing
codes is held back exactly as guessing passwords is."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import identity, passwords
from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.factors import ChallengePurpose, Factor, FactorChallenge, FactorPolicy
from sump.db.tables.sessions import Session
from sump.factors import codes, kinds, repository, totp, webauthn
from sump.factors.kinds import Kind
from sump.kit import sealing
from sump.kit.call import Call
from sump.kit.crypto import new_token, token_digest
from sump.kit.errors import Problem
from sump.sessions import service as sessions

CHALLENGE_TTL = timedelta(minutes=5)
MAX_TOKEN_LENGTH = 256


@dataclass(frozen=True)
class Challenge:
    """What a sign-in answers when it needs another step: the token, the factors that answer it (or, with
    `enrol`, the kinds that may be enrolled), and its lifetime in seconds."""

    token: str
    factors: list[str]
    enrol: bool
    expires_in: int


@dataclass(frozen=True)
class Passed:
    """A challenge answered: the account, the `amr` its session carries, and the channel it began on."""

    account: Account
    amr: list[str]
    channel: str


def invalid_challenge() -> Problem:
    return Problem(401, "invalid_challenge", "The sign-in challenge is unknown, used or expired: sign in again.")


def invalid_code(status: int = 401) -> Problem:
    message = "The code is not correct."
    return Problem(status, "invalid_code", message, errors={"code": message})


def enrolment_required() -> Problem:
    return Problem(
        403, "enrolment_required", "Second factors are required here: enrol one with this challenge to sign in."
    )


def not_enrolment() -> Problem:
    return Problem(403, "enrolment_not_required", "This challenge is answered with a factor at …/login/factor.")


def owner_columns(pool: Pool, account: Account) -> dict[str, object]:
    tenant = pool.environment_id is None
    return {
        "tenant_id": pool.tenant_id,
        "environment_id": pool.environment_id,
        "account_type": pool.account_type,
        "account_id": account.id,
        "tenant_account_id": account.id if tenant else None,
        "environment_account_id": None if tenant else account.id,
    }


async def answerable(call: Call, pool: Pool, account: Account) -> list[str]:
    """The kinds the account can answer a challenge with: its confirmed factors' kinds, then recovery codes
    while any is unused."""
    names = list(dict.fromkeys(factor.kind for factor in await repository.factors(call.db, pool, account.id)))
    if await repository.unused_codes(call.db, pool, account.id):
        names.append(kinds.RECOVERY_CODE.name)
    return names


async def next_step(call: Call, pool: Pool, account: Account, *, methods: list[str], channel: str) -> Challenge | None:
    """After a first factor: a challenge when the account has a second factor (answered at `…/login/factor`)
    or, under the `required` policy, has none yet (answered only by enrolling one); None when the session may
    be issued now, as for every account without a factor under `off` or `optional`."""
    if account.has_factors:
        purpose, names = ChallengePurpose.SIGN_IN, await answerable(call, pool, account)
    elif pool.factor_policy is FactorPolicy.REQUIRED:
        purpose, names = ChallengePurpose.ENROL, list(kinds.ENROLLABLE)
    else:
        return None
    token, now = new_token(), utcnow()
    row = FactorChallenge(
        token_hash=token_digest(token),
        purpose=purpose,
        methods=methods,
        channel=channel,
        expires_at=now + CHALLENGE_TTL,
        created_at=now,
        **owner_columns(pool, account),
    )
    await repository.add(call.db, row)
    return Challenge(token, names, purpose is ChallengePurpose.ENROL, int(CHALLENGE_TTL.total_seconds()))


async def open_challenge(
    call: Call, pool: Pool, token: str, purpose: ChallengePurpose
) -> tuple[FactorChallenge, Account]:
    """The pool's live challenge of this token and its enabled account: 401 `invalid_challenge` for any other
    token (unknown, used, expired, of another pool or account family), and for an enrolment challenge once its
    account has a factor (enrolled meanwhile, by its owner: the password alone no longer signs in); 403 when it
    is for the other purpose."""
    found = None
    if len(token) <= MAX_TOKEN_LENGTH:
        found = await repository.find_challenge(call.db, pool, token_digest(token), utcnow())
    account = None
    if found is not None and found.account_id is not None:
        account = await identity.get(call.db, pool, found.account_id)
    if found is None or account is None or account.disabled:
        raise invalid_challenge()
    if found.purpose is ChallengePurpose.ENROL and account.has_factors:
        raise invalid_challenge()
    if found.purpose is not purpose:
        if {found.purpose, purpose} != {ChallengePurpose.SIGN_IN, ChallengePurpose.ENROL}:
            raise invalid_challenge()  # a passkey's challenge is no sign-in step, nor the other way round
        raise enrolment_required() if found.purpose is ChallengePurpose.ENROL else not_enrolment()
    return found, account


async def close_challenge(call: Call, challenge: FactorChallenge) -> None:
    """Uses the challenge up: of concurrent answers only one gets past this (401 `invalid_challenge`)."""
    if not await repository.consume_challenge(call.db, challenge.id, utcnow()):
        raise invalid_challenge()


async def answer(call: Call, pool: Pool, token: str, factor: str | None, code: str) -> Passed:
    """The second step of a sign-in: the challenge and a code of one of the account's factors (or a recovery
    code). 401 `invalid_challenge`, 401 `invalid_code`, 429 while the lockout holds, 403 `enrolment_required`
    for an enrolment challenge."""
    challenge, account = await open_challenge(call, pool, token, ChallengePurpose.SIGN_IN)
    kind = await verify(call, pool, account, factor, code)
    await close_challenge(call, challenge)
    return Passed(account, kinds.amr_of(list(challenge.methods), kind), challenge.channel)


def kind_of(factor: str | None, code: str) -> Kind | None:
    """The kind named, or by the code's shape when none is: six digits are a TOTP code, else a recovery code."""
    if factor is not None:
        return kinds.KINDS.get(factor)
    return kinds.TOTP if totp.shaped(code.strip()) else kinds.RECOVERY_CODE


async def verify(
    call: Call,
    pool: Pool,
    account: Account,
    factor: str | None,
    code: str | None,
    *,
    credential: dict[str, Any] | None = None,
    status: int = 401,
) -> Kind:
    """The one check of a second factor, for sign-in and step-up (see `guarded`). A TOTP code is accepted
    once (its time step is claimed by a conditional UPDATE); a recovery code is used up; a passkey's assertion
    answers a challenge of `passkey_options` (used up) and is checked by `sump.factors.webauthn`."""
    if credential is not None:
        passkey: list[Kind] = []

        async def assertion() -> bool:
            passkey.append(await _passkey_answer(call, pool, account, credential, status))
            return True

        await guarded(call, pool, account, assertion, status)
        return passkey[0]
    code = code or ""
    kind = kind_of(factor, code)

    async def attempt() -> bool:
        if kind is kinds.TOTP:
            return await _totp_matches(call, pool, account, code)
        if kind is kinds.RECOVERY_CODE:
            return await _use_code(call, pool, account, code)
        return False

    await guarded(call, pool, account, attempt, status)
    assert kind is not None
    return kind


async def guarded(
    call: Call, pool: Pool, account: Account, attempt: Callable[[], Awaitable[bool]], status: int
) -> None:
    """Runs one check of a code as a password check is run: the per-address budget and the account's lockout
    first (429 with `Retry-After`, before any work), then the check, counted for or against this source.
    `invalid_code` (`status`) when it fails. Codes are counted apart from the password: a password reset, which
    lifts the password's count, must not lift theirs (who holds the mailbox could reset, guess, and reset)."""
    await call.limiter.hit(passwords.SIGN_IN_PER_IP, "sign-in", call.client.ip)
    subject, source = passwords.lockout_subject(pool, account) + ":factors", passwords.source(call, account)
    wait = await call.lockout.check(subject, source)
    if wait is not None:
        raise passwords.too_many_attempts(wait)
    try:
        passed = await attempt()
    except Problem as refused:
        if refused.code == "invalid_passkey":
            await call.lockout.failed(subject, source)  # a refused passkey counts as a wrong code does
        raise
    if not passed:
        await call.lockout.failed(subject, source)
        raise invalid_code(status)
    await call.lockout.succeeded(subject, source)


async def _use_code(call: Call, pool: Pool, account: Account, code: str) -> bool:
    """Uses the account's unused code, whichever secret made its digest (`codes.candidates`)."""
    for digest in codes.candidates(call.settings, account.id, code):
        if await repository.use_code(call.db, pool, account.id, digest, utcnow()):
            return True
    return False


def seed_of(call: Call, factor_id: object, sealed: bytes) -> str:
    """The TOTP seed, opened with SUMP_SECRET_KEY or a previous secret."""
    settings = call.settings
    try:
        _, seed = sealing.unseal_any(
            settings.secret_key, settings.previous_secret_keys, sealing.FACTOR_SECRETS, sealed, str(factor_id).encode()
        )
    except sealing.Unreadable:
        raise Problem(
            503, "factor_unreadable", "The factor cannot be read: SUMP_SECRET_KEY is not the secret it was sealed with."
        ) from None
    return seed.decode()


def seal_seed(call: Call, factor_id: object, seed: str) -> bytes:
    return sealing.seal(call.settings.secret_key, sealing.FACTOR_SECRETS, seed.encode(), str(factor_id).encode())


def resealed_seed(settings: Settings, factor_id: object, sealed: bytes) -> bytes | None:
    """The seed sealed under SUMP_SECRET_KEY when a previous secret is what opens it now (`sealing.resealed`)."""
    return sealing.resealed(
        settings.secret_key, settings.previous_secret_keys, sealing.FACTOR_SECRETS, sealed, str(factor_id).encode()
    )


async def _totp_matches(call: Call, pool: Pool, account: Account, code: str) -> bool:
    for factor in await repository.factors(call.db, pool, account.id):
        if factor.kind != kinds.TOTP.name or factor.secret is None:
            continue
        step = totp.matching_step(seed_of(call, factor.id, factor.secret), code, factor.last_step)
        if step is not None:
            return await repository.claim_step(call.db, factor.id, step, utcnow())
    return False


async def step_up(
    call: Call,
    pool: Pool,
    session: Session,
    account: Account,
    factor: str | None,
    code: str | None,
    credential: dict[str, Any] | None = None,
    password: str | None = None,
) -> datetime:
    """Proves the account again in a signed-in session: sensitive changes are allowed for 5 minutes. With a
    second factor, one of them (403 `invalid_code` or `invalid_passkey`; its password alone: 403
    `second_factor_required`); without, its password (403 `wrong_password`; a code: 403 `no_factor`). Each
    counts toward the lockout as a sign-in's (429 while it holds)."""
    if account.has_factors:
        if password is not None:
            raise Problem(403, "second_factor_required", "This account steps up with one of its second factors.")
        await verify(call, pool, account, factor, code, credential=credential, status=403)
    elif password is None:
        raise Problem(403, "no_factor", "This account has no second factor: step up with its password.")
    else:
        await passwords.check_current_password(call, pool, account, password)
    return sessions.elevate(session)


# ------------------------------------------------------------------------------------------------ passkeys


async def new_passkey_challenge(call: Call, pool: Pool, account: Account | None, purpose: ChallengePurpose) -> str:
    """A challenge whose token is the WebAuthn challenge of a passkey ceremony: random, stored as its SHA-256,
    bound to the pool and (unless a username-less sign-in) the account, five minutes, used once."""
    token, now = new_token(), utcnow()
    if account is not None:
        owner = owner_columns(pool, account)
    else:
        owner = {"tenant_id": pool.tenant_id, "environment_id": pool.environment_id, "account_type": pool.account_type}
    row = FactorChallenge(
        token_hash=token_digest(token),
        purpose=purpose,
        methods=[],
        channel="webauthn",
        expires_at=now + CHALLENGE_TTL,
        created_at=now,
        **owner,
    )
    await repository.add(call.db, row)
    return token


async def take_passkey_challenge(
    call: Call, pool: Pool, credential: dict[str, Any], purpose: ChallengePurpose
) -> tuple[FactorChallenge, str]:
    """The live challenge the credential's signed client data answers, used up now (of concurrent answers one
    wins): 401 `invalid_challenge` when it is unknown, used, expired, of another pool or another ceremony."""
    token = webauthn.challenge_token(credential)
    found = None
    if token and len(token) <= MAX_TOKEN_LENGTH:
        found = await repository.find_challenge(call.db, pool, token_digest(token), utcnow())
    if found is None or found.purpose is not purpose:
        raise invalid_challenge()
    await close_challenge(call, found)
    return found, token


async def passkeys(call: Call, pool: Pool, account_id: uuid.UUID) -> list[Factor]:
    return [f for f in await repository.factors(call.db, pool, account_id) if f.kind == kinds.WEBAUTHN.name]


async def _passkey_answer(call: Call, pool: Pool, account: Account, credential: dict[str, Any], status: int) -> Kind:
    """A passkey as a second factor or for step-up: a challenge of this account, user verification preferred."""
    challenge, token = await take_passkey_challenge(call, pool, credential, ChallengePurpose.PASSKEY_ASSERT)
    if challenge.account_id != account.id:
        raise invalid_challenge()
    try:
        return await check_passkey(call, pool, account, credential, token, require_user_verification=False)
    except Problem as refused:
        raise Problem(status, refused.code, refused.detail) from None


async def check_passkey(
    call: Call, pool: Pool, account: Account, credential: dict[str, Any], token: str, *, require_user_verification: bool
) -> Kind:
    """The assertion against the account's passkey of that credential id; its sign count moves on. 401
    `invalid_passkey` (with why) for a passkey that is not the account's or that fails a check."""
    rp = webauthn.relying_party(call.settings, pool)
    # Two assertions of one cloned key at once must not both pass the sign count: the second waits for the first.
    factor = await repository.locked_passkey(call.db, pool, account.id, webauthn.credential_id(credential))
    if factor is None:
        raise webauthn.invalid_passkey("it is not a passkey of this account here")
    stored = webauthn.Stored.of(factor.data)
    asserted = webauthn.verify_assertion(
        rp, token, credential, stored, require_user_verification=require_user_verification
    )
    factor.data = {**factor.data, "signCount": asserted.sign_count, "synced": asserted.synced}
    factor.last_used_at = utcnow()
    return kinds.WEBAUTHN_SYNCED if asserted.synced else kinds.WEBAUTHN


async def purge_expired(db: AsyncSession) -> int:
    """Deletes challenges past their five minutes (they are refused anyway; this only keeps the table small)."""
    return await repository.purge_challenges(db, utcnow())
