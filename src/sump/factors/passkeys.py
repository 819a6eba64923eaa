"""Passkey ceremonies over the factor tables: registering one (a signed-in account, step-up first when it has a
factor), the options of an assertion (second factor, step-up, passwordless sign-in), and the passwordless
sign-in's check. The WebAuthn rules themselves are `sump.factors.webauthn`'s; the one check of an assertion is
`sump.factors.service.check_passkey`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import identity, passwords
from sump.db.base import utcnow, uuid7
from sump.db.tables.factors import MAX_CREDENTIAL_ID_BYTES, ChallengePurpose, Factor
from sump.db.tables.sessions import Session
from sump.factors import enrolment, kinds, repository, webauthn
from sump.factors import service as factors
from sump.factors.kinds import Kind
from sump.kit.call import Call
from sump.kit.errors import Problem

NOBODY = uuid.UUID(int=0)  # the nil UUID: no account has it
# A decoy's shape in a pool without passkeys, where every list is a decoy; what a first passkey must look like
# to shape the decoys instead (a common authenticator's), so that one registration of a rare or forged shape
# cannot mark every decoy for good.
DEFAULT_SHAPE: dict[str, Any] = {"idBytes": 32, "transports": ["hybrid", "internal"]}
MIN_DECOY_ID_BYTES = 16
DECOY_TAG_BYTES = 8
COMMON_ID_BYTES = range(MIN_DECOY_ID_BYTES, 65)
COMMON_TRANSPORTS = frozenset({"ble", "hybrid", "internal", "nfc", "usb"})
# How many passkeys a decoy list holds, drawn once per identifier: most people hold one, some two or three (a
# phone, a laptop, a security key), so that a list of two no longer says "a real account".
DECOY_COUNTS = (1,) * 12 + (2,) * 3 + (3,)


@dataclass(frozen=True)
class Options:
    """A ceremony's options for `navigator.credentials.create` or `.get` (WebAuthn JSON, base64url)."""

    public_key: dict[str, Any]
    expires_in: int


def _stored(found: list[Factor]) -> list[webauthn.Stored]:
    return [webauthn.Stored.of(factor.data) for factor in found]


def _options(public_key: dict[str, Any]) -> Options:
    return Options(public_key, int(factors.CHALLENGE_TTL.total_seconds()))


# ------------------------------------------------------------------------------------------- registration


async def registration_options(call: Call, pool: Pool, session: Session | None, account: Account) -> Options:
    """Options to register a passkey for the account (its own passkeys excluded). 403 `factors_off`, 403
    `step_up_required` when it already has a factor, 409 `passkeys_unavailable` without a relying party."""
    enrolment.guard(pool, session, account)
    rp = webauthn.relying_party(call.settings, pool)
    existing = await factors.passkeys(call, pool, account.id)
    if len(existing) >= webauthn.MAX_CREDENTIALS:
        raise Problem(409, "too_many_passkeys", f"An account has at most {webauthn.MAX_CREDENTIALS} passkeys.")
    token = await factors.new_passkey_challenge(call, pool, account, ChallengePurpose.PASSKEY_ENROL)
    name = account.email or account.username or str(account.id)
    public_key = webauthn.registration_options(
        rp, token, account.id.bytes, name, account.name or name, _stored(existing)
    )
    return _options(public_key)


async def register(
    call: Call, pool: Pool, session: Session | None, account: Account, credential: dict[str, Any], label: str | None
) -> enrolment.Confirmed:
    """The authenticator's answer to `registration_options`: the passkey is enrolled (the account's first
    factor comes with ten recovery codes). 401 `invalid_challenge` (unknown, used, expired, another account's),
    401 `invalid_passkey` saying why (origin, relying-party id, signature …), 409 `passkey_exists` when an
    account of the pool (this one or another) already has a passkey of that credential id."""
    enrolment.guard(pool, session, account)
    rp = webauthn.relying_party(call.settings, pool)
    challenge, token = await factors.take_passkey_challenge(call, pool, credential, ChallengePurpose.PASSKEY_ENROL)
    if challenge.account_id != account.id:
        raise factors.invalid_challenge()
    stored = webauthn.verify_registration(rp, token, credential)
    # One credential id, one account of the pool (WebAuthn §7.1 step 22): its id is no secret (the options of a
    # sign-in naming its owner list it), so no other account may register a copy of it. The check answers most
    # copies; the pool's unique index, those registered at the same time.
    # A decoy's id is answered as a real one's: its refusal and a copy's would otherwise tell apart the accounts
    # whose passkeys a sign-in lists from the identifiers given decoys (`_decoy`).
    seed, _ = await repository.decoy(call.db, pool)
    if _is_decoy(seed, stored.credential_id) or await repository.passkey_registered(
        call.db, pool, stored.credential_id
    ):
        raise _passkey_exists()
    values = {
        "id": uuid7(),
        "kind": kinds.WEBAUTHN.name,
        "label": label,
        "secret": None,
        "data": stored.data(),
        "credential_id": stored.credential_id,
        "confirmed_at": utcnow(),
        **factors.owner_columns(pool, account),
    }
    factor = await repository.add_passkey(call.db, pool, values)
    if factor is None:
        raise _passkey_exists()
    if (shape := _common_shape(stored)) is not None:
        await repository.shape_decoys(call.db, pool, shape)
    return await enrolment.confirmed(call, pool, session, account, factor)


def _passkey_exists() -> Problem:
    return Problem(409, "passkey_exists", "This passkey is already registered here.")


# -------------------------------------------------------------------------------------------- assertions


async def factor_options(call: Call, pool: Pool, token: str) -> Options:
    """Options to answer a sign-in's challenge (of `/login`) with one of the account's passkeys. Each call
    writes a challenge, so it draws on the per-address sign-in budget (429 `rate_limited`)."""
    await call.limiter.hit(passwords.SIGN_IN_PER_IP, "sign-in", call.client.ip)
    _, account = await factors.open_challenge(call, pool, token, ChallengePurpose.SIGN_IN)
    return await _assert_options(call, pool, account)


async def step_up_options(call: Call, pool: Pool, account: Account) -> Options:
    """Options to step up with one of the signed-in account's passkeys."""
    return await _assert_options(call, pool, account)


async def _assert_options(call: Call, pool: Pool, account: Account) -> Options:
    rp = webauthn.relying_party(call.settings, pool)
    found = await factors.passkeys(call, pool, account.id)
    if not found:
        raise Problem(403, "no_passkey", "This account has no passkey: answer with another factor.")
    token = await factors.new_passkey_challenge(call, pool, account, ChallengePurpose.PASSKEY_ASSERT)
    return _options(webauthn.authentication_options(rp, token, _stored(found), user_verification="preferred"))


async def login_options(call: Call, pool: Pool, identifier: tuple[str, str] | None) -> Options:
    """Options of a passwordless sign-in: username-less (the authenticator offers its discoverable passkeys of
    this relying party) or, after an identifier, the passkeys of that account. An unknown identifier, or an
    account without a passkey, gets a decoy in their place, so the answer tells nothing of which accounts exist
    or have passkeys. Each call writes a challenge for anyone, so it draws on the per-address sign-in budget
    (429 `rate_limited`)."""
    await call.limiter.hit(passwords.SIGN_IN_PER_IP, "sign-in", call.client.ip)
    rp = webauthn.relying_party(call.settings, pool)
    owner: Account | None = None
    allowed: list[webauthn.Stored] = []
    if identifier is not None:
        # The same statements whoever is named: an unknown identifier's passkeys are looked up as nobody's.
        seed, shape = await repository.decoy(call.db, pool)
        account = await identity.find(call.db, pool, *identifier)
        found = await factors.passkeys(call, pool, account.id if account is not None else NOBODY)
        owner = account if found else None
        allowed = _stored(found) or _decoys(seed, shape or DEFAULT_SHAPE, identifier)
    token = await factors.new_passkey_challenge(call, pool, owner, ChallengePurpose.PASSKEY_LOGIN)
    return _options(webauthn.authentication_options(rp, token, allowed, user_verification="required"))


def _decoys(seed: bytes, shape: dict[str, Any], identifier: tuple[str, str]) -> list[webauthn.Stored]:
    """The passkeys listed for an identifier that has none: one to three (`DECOY_COUNTS`), as many each time."""
    drawn = hmac.new(seed, b"\x02" + _message(identifier), hashlib.sha256).digest()[0]
    return [_decoy(seed, shape, identifier, index) for index in range(DECOY_COUNTS[drawn % len(DECOY_COUNTS)])]


def _message(identifier: tuple[str, str], index: int = 0) -> bytes:
    # An identifier's message starts with its kind's letter; the other messages keyed by the seed start with
    # bytes no kind does (a decoy after the first `\x01`, the count `\x02`, a block after the first and the tag
    # `\x00`), so that none is another's.
    kind, value = identifier
    message = f"{kind}:{value}".encode()
    return bytes([1, index]) + message if index else message


def _decoy(seed: bytes, shape: dict[str, Any], identifier: tuple[str, str], index: int = 0) -> webauthn.Stored:
    """A passkey no authenticator holds, the same each time this identifier is named in this pool (a list that
    changed from one request to the next, or at a rotation of the secret, would give the decoy away), shaped
    like the pool's passkeys (`DecoySeeded.decoy_shape`: one of another length or other transports would give
    it away too). Its last bytes are a tag of the rest (`_is_decoy`), so that a registration of its id is
    refused as a registered passkey's is."""
    message = _message(identifier, index)
    length = min(max(int(shape["idBytes"]), MIN_DECOY_ID_BYTES), MAX_CREDENTIAL_ID_BYTES)
    # Blocks after the first are keyed apart by a prefix no identifier's message starts with, so no block of
    # one decoy is a block of another's (which would tie the two together as decoys).
    prefixes = [b"", *(bytes([0, n]) for n in range(1, -(-length // 32)))]
    blocks = b"".join(hmac.new(seed, prefix + message, hashlib.sha256).digest() for prefix in prefixes)
    body = blocks[: length - DECOY_TAG_BYTES]
    credential_id = base64.urlsafe_b64encode(body + _decoy_tag(seed, body)).rstrip(b"=").decode()
    transports = list(shape["transports"])
    return webauthn.Stored(credential_id, public_key="", sign_count=0, transports=transports, synced=True)


def _decoy_tag(seed: bytes, body: bytes) -> bytes:
    # keyed apart from the blocks by a prefix none of theirs is
    return hmac.new(seed, b"\x00\x00" + body, hashlib.sha256).digest()[:DECOY_TAG_BYTES]


def _is_decoy(seed: bytes, credential_id: str) -> bool:
    """Whether the id is one of this pool's decoys (an authenticator's random id is one by a chance of 2^-64)."""
    raw = base64.urlsafe_b64decode(credential_id + "=" * (-len(credential_id) % 4))
    if len(raw) < MIN_DECOY_ID_BYTES:
        return False
    body, tag = raw[:-DECOY_TAG_BYTES], raw[-DECOY_TAG_BYTES:]
    return hmac.compare_digest(tag, _decoy_tag(seed, body))


def _common_shape(stored: webauthn.Stored) -> dict[str, Any] | None:
    """What a passkey shows but its bytes (its id's length, its transports), if a common authenticator's."""
    length = len(stored.credential_id) * 3 // 4  # base64url, unpadded
    if length not in COMMON_ID_BYTES or not stored.transports or not COMMON_TRANSPORTS.issuperset(stored.transports):
        return None
    return {"idBytes": length, "transports": stored.transports}


NOT_HERE = "it is not a passkey of an account here"


async def login(call: Call, pool: Pool, credential: dict[str, Any]) -> tuple[Account, Kind, bool]:
    """The passwordless sign-in's assertion: its challenge (used up), the account (the challenge's, or the one
    the passkey's user handle names), user verification required, and whether the challenge was the account's
    (asked for after its identifier) rather than anyone's. 401 `invalid_challenge`, 401 `invalid_passkey` saying
    why; counted toward the account's lockout like a wrong password."""
    challenge, token = await factors.take_passkey_challenge(call, pool, credential, ChallengePurpose.PASSKEY_LOGIN)
    account_id = challenge.account_id
    if account_id is None:
        handle = webauthn.asserted_user(credential)
        account_id = uuid.UUID(bytes=handle) if handle is not None and len(handle) == 16 else None
    account = await identity.get(call.db, pool, account_id) if account_id is not None else None
    if account is None or account.disabled:
        raise webauthn.invalid_passkey(NOT_HERE)
    found: list[Kind] = []

    async def attempt() -> bool:
        found.append(
            await factors.check_passkey(call, pool, account, credential, token, require_user_verification=True)
        )
        return True

    await factors.guarded(call, pool, account, attempt, 401)
    return account, found[0], challenge.account_id is not None
