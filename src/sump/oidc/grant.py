"""The token endpoint's `authorization_code` grant: a code redeemed once (`sump.oidc.codes`) becomes an access
token (RFC 9068 `client_id` and `scope`), a refresh token bound to the client, and an ID token."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from sump.db.tables.clients import Client
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.environment_accounts import service as end_users
from sump.kit import audit
from sump.kit.audit import ref
from sump.kit.call import Call
from sump.kit.errors import Problem
from sump.oidc import codes, id_tokens
from sump.organizations import service as organizations
from sump.sessions import service as sessions
from sump.tokens import keys
from sump.tokens import service as tokens

REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a grant type's name)
OFFLINE_ACCESS = "offline_access"


@dataclass(frozen=True)
class SignIn:
    id: uuid.UUID
    amr: list[str] | None


@dataclass(frozen=True)
class CodeTokens:
    access_token: str
    expires_in: int
    scope: str
    id_token: str
    refresh_token: str | None


async def authorization_code(
    call: Call, environment: Environment, client: Client, code: str, redirect_uri: str | None, verifier: str | None
) -> CodeTokens | Problem:
    """Tokens for a code of `client` (authenticated); `invalid_grant` for anything wrong with the code, its
    redirect URI or verifier, its session (ended since) or its account (disabled since). A replay returns its
    problem, with what the code issued revoked."""
    redeemed = await codes.redeem(call.db, environment, client, code, redirect_uri, verifier)
    if isinstance(redeemed, Problem):
        await _audit(call, environment, client, None, "oauth.code_replayed", "failure")
        return redeemed
    live, amr = await sessions.live_amr(call.db, call.settings, redeemed.session_id)
    account = await end_users.enabled(call.db, environment.id, redeemed.account_id)
    if account is None or not live:
        raise codes.invalid_grant("The sign-in behind the authorization code has ended.")
    membership = None  # a third-party client's token acts in no organization (`tokens.Issuee.first_party`)
    if client.first_party:
        with contextlib.suppress(Problem):  # several organizations: the code flow names none, so it acts in none
            membership = await organizations.token_grant(call.db, environment.id, account.id, None)
    # As the registration stands now: a scope taken from it while the request waited is not granted.
    scope = [name for name in redeemed.scope.split() if name in client.scopes_allowed]
    issuee = tokens.Issuee(client.id, client.client_id, " ".join(scope), client.first_party)
    session = SignIn(redeemed.session_id, amr)
    pair = await tokens.issue(call.db, call.settings, environment, account, session, membership, issuee)
    assert pair.family_id is not None
    await codes.issued(call.db, redeemed.id, pair.family_id)
    id_token = await id_tokens.issue(
        call.db,
        call.settings,
        environment,
        account,
        client_id=client.client_id,
        session_id=session.id,
        scope=scope,
        nonce=redeemed.nonce,
        auth_time=redeemed.auth_time,
        amr=amr,
        algorithm=client.id_token_signed_response_alg or keys.ES256,
    )
    await _audit(call, environment, client, account, "token.issued", "success", pair.organization_id)
    # A third-party client keeps access while the user is away only with the consented `offline_access`.
    offline = client.first_party or OFFLINE_ACCESS in scope
    refresh = pair.refresh_token if REFRESH_TOKEN in client.grant_types and offline else None
    return CodeTokens(pair.access_token, pair.expires_in, " ".join(scope), id_token, refresh)


async def _audit(
    call: Call,
    environment: Environment,
    client: Client,
    account: EnvironmentAccount | None,
    action: str,
    outcome: str,
    organization_id: uuid.UUID | None = None,
) -> None:
    who = ref(account) if account is not None else None
    await audit.record(
        call.db,
        action,
        tenant_id=environment.tenant_id,
        environment_id=environment.id,
        organization_id=organization_id,
        actor=who,
        target=who,
        outcome=outcome,
        details={"grant": "authorization_code", "clientId": client.client_id},
    )
