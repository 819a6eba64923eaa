"""Sign-in and everything around a session, the same for tenant accounts and end users (see `Pool`).

Each use case is one function that does all of it (limits, lockout, hashing slot, session rotation, audit of
success and failure, the outbox's wake-up); API routes, console pages and the token endpoint's password grant
are adapters over these functions, so a step added here is taken on every path.

Every failed sign-in, whether the account is unknown, has no password, is disabled or the password is wrong,
costs one full hash verification and answers the same 401. Password resets live in `sump.accounts.reset`.

A sign-in is one state machine: identify → first factor (the password) → second factor when the account has
one, or enrolment of one when the policy requires it → session. Each step before the last answers a short-lived
single-use challenge (`sump.factors.service`); an account without a factor under `off` or `optional` gets its
session from the first step, exactly as before.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from limits import parse

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import links, magic_links, passwords, reset, verification
from sump.accounts.schemas import ChangePassword, Login, ResetPassword, Signup
from sump.db.tables.factors import ChallengePurpose
from sump.db.tables.links import LinkPurpose
from sump.db.tables.sessions import Session
from sump.environment_accounts import service as end_users
from sump.factors import enrolment, kinds, passkeys, webauthn
from sump.factors import service as factors
from sump.factors.schemas import ConfirmEnrolment, EnrolTotp, FactorAnswer, PasskeySignIn
from sump.kit import audit
from sump.kit.audit import Ref, ref
from sump.kit.call import Call
from sump.kit.email.outbox import enqueue_email
from sump.kit.errors import Problem, forbidden, not_found
from sump.sessions import service as sessions
from sump.tokens import service as tokens

SIGNUP_PER_IP = parse("10/minute")


@dataclass(frozen=True)
class SignedIn:
    account: Account
    issued: sessions.Issued
    recovery_codes: list[str] | None = None  # of a factor enrolled by this sign-in


Challenge = factors.Challenge


def email_unverified() -> Problem:
    return Problem(
        403,
        "email_unverified",
        "Verify your email address to sign in: follow the link sent to it, or ask for a new one.",
    )


def _identifier(aimed_at: Account | None, kind: str, value: str) -> dict[str, str]:
    """How the audit log names a failed sign-in's identifier: as typed when it names an account; else by its kind
    alone, since it may be a password typed in the wrong field (whoever reads the log could test guesses of it
    against a digest, so none is kept either)."""
    return {"identifier_kind": kind, "identifier": value} if aimed_at is not None else {"identifier_kind": kind}


def _audit_failure(
    call: Call, action: str, problem: Problem, pool: Pool, account: Account | None = None, **details: Any
) -> None:
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
    call: Call,
    pool: Pool,
    body: Login,
    *,
    channel: str = "api",
    previous_token: str | None = None,
    then_more: bool = False,
) -> SignedIn | Challenge:
    """Email, phone or username and password → a new session (the previous one of this client, if given,
    ends), or a challenge when a second factor must follow (see the module). 401 for any wrong pair, 429 while
    the lockout holds this source, 503 when hashing is full. `then_more`: the caller writes more that may still
    be refused, and the sign-in must roll back with it (else its writes commit at once)."""
    kind, value = body.chosen()
    first = await passwords.first_factor(call, pool, kind, value, body.password)
    account = first.account
    if first.refusal is not None or account is None:
        problem = first.refusal or passwords.invalid_credentials()
        named = _identifier(first.aimed_at, kind, value)
        _audit_failure(call, "login.failed", problem, pool, first.aimed_at, channel=channel, **named)
        raise problem
    if pool.require_verified_email and not account.email_verified:
        # Only once the password checked out: someone without it learns nothing of the account.
        problem = email_unverified()
        _audit_failure(call, "login.failed", problem, pool, account, identifier_kind=kind, channel=channel)
        raise problem
    changed_at = account.password_changed_at  # of the password just checked, as read before the hash
    if first.upgraded:
        # Before the rows and their check, which roll it back if they are refused: the account's row is held for
        # writing from the start, never shared first and then written (two sign-ins holding it shared would each
        # wait for the other, as would one that had ended its old session and a change waiting to end it too).
        await passwords.upgrade_hash(call, pool, account, changed_at, first.upgraded)
    challenge = await factors.next_step(call, pool, account, methods=[kinds.PASSWORD_AMR], channel=channel)
    if challenge is not None:
        action = "login.enrolment_required" if challenge.enrol else "login.factor_required"
        await _audit(call, pool, action, account, identifier_kind=kind, channel=channel)
        done: SignedIn | Challenge = challenge
    else:
        done = await _signed_in(call, pool, account, [kinds.PASSWORD_AMR], None, identifier_kind=kind, channel=channel)
    replaced = previous_token if isinstance(done, SignedIn) else None
    # The old session's end stands or falls with the new one, in one transaction: else a failure between the two
    # would leave both.
    last = not then_more and replaced is None
    if not await passwords.write_if_still_as_checked(call, pool, account, changed_at, last=last):
        problem = passwords.invalid_credentials()  # what else it wrote rolls back with it
        details = {"identifier_kind": kind, "channel": channel, "reason": "account_changed"}  # the password was right
        _audit_failure(call, "login.failed", problem, pool, account, **details)
        raise problem
    if replaced and isinstance(done, SignedIn):
        # Only now: a change of the account waiting for the check above must not find this sign-in holding the
        # old session's row too, which it deletes next (each would wait for the other).
        await _end_replaced(call, replaced, done)
    return done


async def _signed_in(
    call: Call, pool: Pool, account: Account, amr: list[str], previous_token: str | None, **details: Any
) -> SignedIn:
    issued = await sessions.issue(call.db, call.settings, account, call.client, amr)
    done = SignedIn(account, issued)
    if previous_token:
        await _end_replaced(call, previous_token, done)
    await _audit(call, pool, "login.succeeded", account, amr=amr, **details)
    return done


async def _end_replaced(call: Call, previous_token: str, done: SignedIn) -> None:
    """Ends the session of this browser that the sign-in replaces (a new token: no session fixation); the
    refresh tokens its applications took from it go on with the new one when it was the same account's."""
    await tokens.carry_over(call.db, call.settings, previous_token, done.issued.session)
    await sessions.revoke_token(call.db, previous_token)


async def finish_sign_in(
    call: Call, pool: Pool, body: FactorAnswer, *, channel: str = "api", previous_token: str | None = None
) -> SignedIn:
    """The second step: the challenge of the first and a code of one of the account's factors (or a recovery
    code) → the session the first step would have given, signed in with `amr` `pwd`, `otp` (or `rc`), `mfa`.
    401 `invalid_challenge` (unknown, used, expired, of another pool), 401 `invalid_code` (counts toward the
    lockout), 429 while it holds, 403 `enrolment_required` for an enrolment challenge."""
    challenge, account = await factors.open_challenge(call, pool, body.challenge, ChallengePurpose.SIGN_IN)
    try:
        credential = body.credential.as_json() if body.credential is not None else None
        kind = await factors.verify(call, pool, account, body.factor, body.code, credential=credential)
        await factors.close_challenge(call, challenge)
    except Problem as problem:
        _audit_failure(call, "login.factor_failed", problem, pool, account, channel=channel)
        raise
    amr = kinds.amr_of(list(challenge.methods), kind)
    return await _signed_in(call, pool, account, amr, previous_token, factor=kind.name, channel=channel)


async def sign_in_with_passkey(
    call: Call, pool: Pool, body: PasskeySignIn, *, channel: str = "api", previous_token: str | None = None
) -> SignedIn:
    """A passwordless sign-in: the assertion of a passkey (after `…/login/passkey/options`), with user
    verification, is the whole sign-in (`amr` `hwk` or `swk`). 401 `invalid_challenge`, 401 `invalid_passkey`
    saying why, 429 while the lockout holds, 409 `passkeys_unavailable` without a relying party."""
    try:
        account, kind, bound = await passkeys.login(call, pool, body.credential.as_json())
    except Problem as problem:
        _audit_failure(call, "login.failed", problem, pool, None, method="passkey", channel=channel)
        raise
    if pool.require_verified_email and not account.email_verified:
        unverified = email_unverified()
        _audit_failure(call, "login.failed", unverified, pool, account, method="passkey", channel=channel)
        raise unverified
    done = await _signed_in(call, pool, account, [kind.amr], None, factor=kind.name, channel=channel)
    # A challenge of the account is ended by whatever ends its sessions (a disabling, a deletion, a takeover by
    # a proven address), which waits for this sign-in's use of it, then ends this session too. A challenge of
    # anyone's is not: the account's row is checked under a lock instead, as a password sign-in checks it.
    if not bound and not await passwords.write_if_still_as_checked(
        call, pool, account, account.password_changed_at, last=False
    ):
        refused = webauthn.invalid_passkey(passkeys.NOT_HERE)
        details = {"method": "passkey", "channel": channel, "reason": "account_changed"}
        _audit_failure(call, "login.failed", refused, pool, account, **details)
        raise refused
    if previous_token:  # only now: a change of the account waiting for the check must not find its row held
        await _end_replaced(call, previous_token, done)
    return done


async def sign_in_with_link(
    call: Call, pool: Pool, token: str, *, channel: str = "api", previous_token: str | None = None
) -> SignedIn | Challenge:
    """A magic link as a sign-in's first step (where the environment allows them): the emailed token (single
    use, 15 minutes, of this pool) proves the address, which counts as verified; then the second factor when
    the account has one, exactly as after a password (`amr` `email`). 429 past 10 a minute per address, 403
    `magic_links_disabled`, 400 `invalid_token` for any other token."""
    await call.limiter.hit(magic_links.SIGN_IN_PER_IP, "environment-magic-link-sign-in", call.client.ip)
    magic_links.ensure_enabled(pool)
    try:
        link, account = await links.redeem(call.db, pool, token, LinkPurpose.MAGIC_LINK)
        if link.email != account.email:  # the address changed since the link was sent
            raise links.invalid_token()
    except Problem as problem:
        _audit_failure(call, "login.failed", problem, pool, None, method="magic_link", channel=channel)
        raise
    if not account.email_verified:
        await _proven_by_link(call, pool, account)
    methods = [magic_links.AMR]
    challenge = await factors.next_step(call, pool, account, methods=methods, channel=channel)
    if challenge is not None:
        action = "login.enrolment_required" if challenge.enrol else "login.factor_required"
        await _audit(call, pool, action, account, method="magic_link", channel=channel)
        return challenge
    return await _signed_in(call, pool, account, methods, previous_token, method="magic_link", channel=channel)


async def _proven_by_link(call: Call, pool: Pool, account: Account) -> None:
    """A magic link to an address never verified proves the mailbox, and nothing set up before it: the password,
    second factors (a passkey signs in alone), sessions and links may be a squatter's, who signed up with the
    address before its owner did and would keep a way into the account its owner now uses. They all end (the
    owner chooses a password through a reset), and the account is told by email when it had a password or a
    factor."""
    removed = await enrolment.reset(call, pool, account)  # before the account's row: a sign-in's order
    account.email_verified = True
    had_password = account.password_hash is not None
    await passwords.replace_password(call, pool, account, None, keep=None)
    if had_password or removed:
        await enqueue_email(
            call.db, "proven_by_link", account.email, name=account.name, password=had_password, factors=removed > 0
        )
    await _audit(
        call, pool, "login.link_verified_email", account, factors_removed=removed, password_removed=had_password
    )


async def begin_enrolment(call: Call, pool: Pool, body: EnrolTotp) -> enrolment.TotpSetup:
    """Under the `required` policy, an account without a factor enrols one with its enrolment challenge
    (which stays open until the factor is confirmed)."""
    _, account = await factors.open_challenge(call, pool, body.challenge, ChallengePurpose.ENROL)
    return await enrolment.begin_totp(call, pool, None, account, body.label)


async def finish_enrolment(
    call: Call, pool: Pool, body: ConfirmEnrolment, *, channel: str = "api", previous_token: str | None = None
) -> SignedIn:
    """The enrolled factor's first code ends the enrolment challenge and signs in, with the recovery codes."""
    challenge, account = await factors.open_challenge(call, pool, body.challenge, ChallengePurpose.ENROL)
    try:
        confirmed = await enrolment.confirm_totp(call, pool, None, account, body.factor_id, body.code)
        await factors.close_challenge(call, challenge)
    except Problem as problem:
        _audit_failure(call, "login.enrolment_failed", problem, pool, account, channel=channel)
        raise
    await _audit(call, pool, "factor.enrolled", account, factor=kinds.TOTP.name)
    amr = kinds.amr_of(list(challenge.methods), kinds.TOTP)
    done = await _signed_in(call, pool, account, amr, previous_token, factor=kinds.TOTP.name, channel=channel)
    return SignedIn(done.account, done.issued, confirmed.recovery_codes)


@dataclass(frozen=True)
class Unverified:
    """A sign-up where sign-in needs a verified email: the account exists, and no session until it is."""

    account: Account


async def sign_up(
    call: Call, pool: Pool, body: Signup, *, channel: str = "api", previous_token: str | None = None
) -> SignedIn | Unverified | Challenge:
    """Creates an end user and signs them in (403 when the environment has sign-up turned off), ending the
    browser's session it replaces (`previous_token`), as a sign-in does. Where sign-in needs a verified email,
    no session yet: the verification link is sent whatever `emailVerification` says. Where second factors are
    required, no session either: the sign-up ends where a password sign-in of the new account would, with the
    enrolment challenge (`sign_in`), and enrolling a factor signs in."""
    await call.limiter.hit(SIGNUP_PER_IP, "environment-signup", call.client.ip)
    if not pool.signup_enabled or pool.environment_id is None:
        raise forbidden("signup_disabled", "Sign-up is turned off for this environment.")
    await call.end_reads()  # the pool was read: the wait for a hashing thread holds no connection
    async with call.hasher.slot():
        account = await end_users.new_account(call.db, call.hasher, pool, body)
    if pool.require_verified_email:
        await verification.send_link(call, pool, account)
        await _audit(call, pool, "signup", account, verification_required=True)
        return Unverified(account)
    challenge = await factors.next_step(call, pool, account, methods=[kinds.PASSWORD_AMR], channel=channel)
    if challenge is not None:
        await verification.after_sign_up(call, pool, account)
        await _audit(call, pool, "signup", account, enrolment_required=True)
        return challenge
    done = SignedIn(account, await sessions.issue(call.db, call.settings, account, call.client))
    if previous_token:
        await _end_replaced(call, previous_token, done)
    await verification.after_sign_up(call, pool, account)
    await _audit(call, pool, "signup", account)
    return done


async def reset_password(call: Call, pool: Pool, body: ResetPassword) -> Account:
    """Sets a new password with an emailed token (`accounts.reset`). Following the link proves the mailbox: an
    account whose email was never verified has it verified now, and loses the second factors enrolled before.
    Those may be a squatter's, who signed up with the address before its owner did (a passkey would have let
    them back in past the owner's reset); the owner is told by email, and enrols their own."""
    removed: int | None = None  # the factors removed, once the reset proved an address never verified

    async def proven(account: Account) -> None:  # the factors end before the account's row is written
        nonlocal removed
        if not account.email_verified:
            removed = await enrolment.reset(call, pool, account)

    account = await reset.reset_password(call, pool, body, proven)
    if removed is None:
        return account
    account.email_verified = True
    if removed:
        await enrolment.tell_reset(call, pool, account, by_reset=True)
    await _audit(call, pool, "password.reset_verified_email", account, factors_removed=removed)
    return account


async def change_password(call: Call, pool: Pool, session: Session, account: Account, body: ChangePassword) -> None:
    """Needs the current password (and step-up when the account has a second factor); keeps this session and
    revokes the others; tells the account by email."""
    new_hash = ""

    async def hashed_and_ways_in_ended() -> None:  # the hash with no row held; the ways in before the row
        nonlocal new_hash
        pool.policy.check(body.new_password, email=account.email, username=account.username)
        new_hash = await call.hasher.hash(body.new_password)
        await links.end_ways_in(call.db, pool, account)

    try:
        sessions.require_step_up(session, account)
        await passwords.check_current_password(call, pool, account, body.current_password, hashed_and_ways_in_ended)
    except Problem as problem:
        _audit_failure(call, "password.change_failed", problem, pool, account)
        raise
    await passwords.set_password(call, pool, account, new_hash, keep=session.id)
    await _audit(call, pool, "password.changed", account)


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
