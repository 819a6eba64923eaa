"""Passkey sign-in routes of both families: the options of a passkey answer to a sign-in's challenge (its
assertion then goes to `…/login/factor`), and the passwordless pair `…/login/passkey/options` → `…/login/passkey`.
Adapters over `sump.factors.passkeys` and `sump.auth.service.sign_in_with_passkey`.

No `from __future__ import annotations` here: the routes are built in a function, and FastAPI must see
their dependency annotations as objects, not as names it would look up in the module."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from sump.access.cookies import session_token, set_session_cookie
from sump.access.pools import Pool
from sump.accounts.pools import load_pool
from sump.accounts.schemas import IDENTIFIER_KINDS
from sump.auth import service
from sump.db.tables.sessions import AccountType
from sump.factors import passkeys
from sump.factors.schemas import ChallengeOnly, PasskeyLoginOptions, PasskeyOptions, PasskeySignIn
from sump.kit.deps import CallDep
from sump.kit.devices import remember
from sump.kit.errors import problem_responses
from sump.kit.transactions import DbSession
from sump.sessions.schemas import SessionView
from sump.sessions.schemas import SignedIn as SignedInView


def _view(options: passkeys.Options) -> PasskeyOptions:
    return PasskeyOptions(public_key=options.public_key, expires_in=options.expires_in)


def family_router(account_type: AccountType) -> APIRouter:
    tenant = account_type is AccountType.TENANT_ACCOUNT
    family, param = ("tenant", "tenantId") if tenant else ("environment", "environmentId")
    ContextId = Annotated[uuid.UUID, Path(alias=param, description=f"{family.capitalize()} id.")]
    router = APIRouter(
        prefix=f"/auth/{family}s/{{{param}}}",
        tags=[f"{family} sign-in"],
        responses=problem_responses(400, 401, 404, 409),
    )

    async def context_pool(context_id: ContextId, db: DbSession) -> Pool:
        return await load_pool(db, account_type, context_id)

    PoolDep = Annotated[Pool, Depends(context_pool)]

    @router.post("/login/factor/options", response_model=PasskeyOptions, responses=problem_responses(403))
    async def factor_options(body: ChallengeOnly, pool: PoolDep, call: CallDep) -> PasskeyOptions:
        """Options for answering the challenge of `/login` with a passkey: pass them to
        `navigator.credentials.get()` and send its answer to `…/login/factor` as `credential` (with `factor`
        `webauthn`). The challenge in them is single use, bound to this account, 5 minutes; user verification
        is preferred. 401 `invalid_challenge`, 403 `no_passkey`, 409 `passkeys_unavailable` (no relying party:
        an environment's `passkeyRpId` and `passkeyOrigins`, or the console's `SUMP_PUBLIC_URL` is an IP)."""
        return _view(await passkeys.factor_options(call, pool, body.challenge))

    @router.post("/login/passkey/options", response_model=PasskeyOptions)
    async def passkey_options(body: PasskeyLoginOptions, pool: PoolDep, call: CallDep) -> PasskeyOptions:
        """Options for signing in with a passkey alone. Without an identifier they are username-less (the
        authenticator offers its discoverable passkeys for this relying party); with one, they list that
        account's passkeys (an unknown identifier gets username-less options). User verification is required:
        the passkey stands for possession and a PIN or biometric."""
        identifier = next(((kind, getattr(body, kind)) for kind in IDENTIFIER_KINDS if getattr(body, kind)), None)
        return _view(await passkeys.login_options(call, pool, identifier))

    @router.post(
        "/login/passkey",
        response_model=SignedInView,
        response_model_exclude_none=True,
        responses=problem_responses(403, 429),
    )
    async def passkey_login(
        body: PasskeySignIn, pool: PoolDep, request: Request, response: Response, call: CallDep
    ) -> SignedInView:
        """Signs in with a passkey's assertion (answering `…/login/passkey/options`): sets `sump_session` and
        answers what `/login` answers, with `amr` `hwk` (a device-bound key) or `swk` (a synced passkey). 401
        `invalid_challenge` (unknown, used, expired, of another pool); 401 `invalid_passkey` saying why (origin,
        relying-party id, user verification, a sign counter that went backwards, not a passkey of an account
        here); 429 while the account's lockout holds."""
        done = await service.sign_in_with_passkey(
            call, pool, body, previous_token=session_token(request, call.settings)
        )
        set_session_cookie(response, call.settings, done.issued.token)
        remember(response, call.settings, call.client.devices, done.account.id)
        return SignedInView(
            account_id=done.account.id, session=SessionView.of(done.issued.session), token=done.issued.token
        )

    return router


tenant_router = family_router(AccountType.TENANT_ACCOUNT)
environment_router = family_router(AccountType.ENVIRONMENT_ACCOUNT)
