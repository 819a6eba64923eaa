"""The token endpoint's grants, each one whole use case: the password grant is the sign-in of
`sump.auth.service` (same budget, lockout, hashing slot and audit), then tokens for the session it opens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account, end_user_of
from sump.auth import service as auth
from sump.auth.schemas import MFA_GRANT, TokenRequest
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import Session
from sump.environment_accounts import service as end_users
from sump.environments import service as environments
from sump.factors.schemas import FactorAnswer
from sump.kit import audit
from sump.kit.audit import ref
from sump.kit.call import Call
from sump.kit.errors import Problem
from sump.organizations import service as organizations
from sump.tokens import service


@dataclass(frozen=True)
class MfaChallenge:
    """A password grant that needs a second factor: answered 403 `mfa_required` with the challenge."""

    challenge: auth.Challenge


async def grant(
    call: Call, environment: Environment, body: TokenRequest, signed_in: tuple[Session, Account] | None
) -> service.TokenPair | Problem | MfaChallenge:
    """Tokens for the grant in `body`. A replayed refresh token returns (not raises) its problem: the
    revocation it caused must commit with the answer. A password grant of an account with a second factor
    returns its challenge (which must commit too); the mfa grant answers it, as `…/login/factor` does."""
    if body.grant_type == "refresh_token":
        assert body.refresh_token is not None
        return await refresh(call, environment, body.refresh_token)
    if body.grant_type == "password":
        done = await auth.sign_in(call, environments.pool(environment), body.login(), channel="token", then_more=True)
        if isinstance(done, auth.Challenge):
            return MfaChallenge(done)
        session, account = done.issued.session, done.account
    elif body.grant_type == MFA_GRANT:
        assert body.challenge is not None
        answer = FactorAnswer(challenge=body.challenge, factor=body.factor, code=body.code, credential=body.credential)
        finished = await auth.finish_sign_in(call, environments.pool(environment), answer, channel="token")
        session, account = finished.issued.session, finished.account
    else:
        if signed_in is None or not end_user_of(signed_in[1], environment.id):
            raise _session_needed()
        session, account = signed_in
    assert isinstance(account, EnvironmentAccount)
    membership = await organizations.token_grant(call.db, environment.id, account.id, body.organization_id)
    pair = await service.issue(call.db, call.settings, environment, account, session, membership)
    await _audit(call.db, environment, "token.issued", account, pair.organization_id, grant=body.grant_type)
    return pair


def _session_needed() -> Problem:
    return Problem(401, "unauthenticated", "The session grant needs a session of this environment.")


async def refresh(
    call: Call, environment: Environment, raw: str, client: service.Issuee | None = None
) -> service.TokenPair | Problem:
    """Rotates a refresh token: of the first-party grants (`client` None), or of the authenticated client it was
    issued to (with the scope it asks, which may narrow the granted one)."""

    async def account_of(db: AsyncSession, account_id: uuid.UUID) -> EnvironmentAccount | None:
        return await end_users.enabled(db, environment.id, account_id)

    try:
        pair = await service.refresh(
            call.db, call.settings, environment, account_of, organizations.current_grant, raw, client
        )
    except Problem as problem:
        audit.record_failure(
            call, "token.refresh_failed", problem, tenant_id=environment.tenant_id, environment_id=environment.id
        )
        raise
    if isinstance(pair, Problem):
        await _audit(call.db, environment, "token.reuse_detected", None, None, outcome="failure")
        return pair
    await _audit(call.db, environment, "token.refreshed", pair.account, pair.organization_id)
    return pair


async def _audit(
    db: AsyncSession,
    environment: Environment,
    action: str,
    account: EnvironmentAccount | None,
    organization_id: uuid.UUID | None,
    outcome: str = "success",
    **details: str,
) -> None:
    who = ref(account) if account else None
    await audit.record(
        db,
        action,
        tenant_id=environment.tenant_id,
        environment_id=environment.id,
        organization_id=organization_id,
        actor=who,
        target=who,
        outcome=outcome,
        details=details,
    )
