"""Second factors over HTTP: one's own factors under `/auth/{tenants|environments}/{id}/me/factors`, step-up,
and an admin's reset beside the admin routes of each account family. Adapters over `sump.factors`; the sign-in
steps themselves are `sump.auth.routes` (`…/login/factor`, `…/login/enrol/totp`).

No `from __future__ import annotations` here: the routes are built in a function, and FastAPI must see
their dependency annotations as objects, not as names it would look up in the module."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from sump.access.actors import EndUser, TenantActor
from sump.access.dependencies import EnvironmentActorDep, TenantMember, end_user_session, tenant_session
from sump.access.pools import Pool
from sump.accounts.pools import load_pool
from sump.db.tables.sessions import AccountType
from sump.factors import admin, enrolment, passkeys
from sump.factors import service as factors
from sump.factors.schemas import (
    ConfirmTotp,
    Enrolled,
    FactorsReset,
    FactorsView,
    FactorView,
    NewPasskey,
    NewTotp,
    PasskeyOptions,
    RecoveryCodes,
    SteppedUp,
    StepUp,
    TotpSetupView,
)
from sump.kit.deps import CallDep
from sump.kit.errors import problem_responses
from sump.kit.transactions import DbSession

FactorId = Annotated[uuid.UUID, Path(alias="factorId", description="Factor id.")]
AccountId = Annotated[uuid.UUID, Path(alias="accountId", description="Account id.")]


def family_router(account_type: AccountType) -> APIRouter:
    tenant = account_type is AccountType.TENANT_ACCOUNT
    family, param = ("tenant", "tenantId") if tenant else ("environment", "environmentId")
    ContextId = Annotated[uuid.UUID, Path(alias=param, description=f"{family.capitalize()} id.")]
    Current = Annotated[TenantActor | EndUser, Depends(tenant_session if tenant else end_user_session)]
    router = APIRouter(
        prefix=f"/auth/{family}s/{{{param}}}",
        tags=["second factors"],
        responses=problem_responses(400, 401, 403, 404),
    )

    async def context_pool(context_id: ContextId, db: DbSession) -> Pool:
        return await load_pool(db, account_type, context_id)

    PoolDep = Annotated[Pool, Depends(context_pool)]

    @router.get("/me/factors", response_model=FactorsView, response_model_exclude_none=True)
    async def list_factors(actor: Current, pool: PoolDep, call: CallDep) -> FactorsView:
        """The signed-in account's enrolled factors (never their secrets) and how many recovery codes are left."""
        found = await enrolment.listing(call, pool, actor.account)
        return FactorsView(
            factors=[FactorView.of(factor) for factor in found.factors], recovery_codes_left=found.recovery_codes_left
        )

    @router.post("/me/factors/totp", status_code=201, response_model=TotpSetupView)
    async def new_totp(body: NewTotp, actor: Current, pool: PoolDep, call: CallDep) -> TotpSetupView:
        """Starts enrolling an authenticator app: its secret is shown this once, as text, an `otpauth://` URI
        and a QR code (SVG). Confirm it with a first code. 403 `factors_off` where the policy is off; 403
        `step_up_required` unless this session stepped up within 5 minutes (with a factor it has, or, for its first
        factor, its password) or signed in then."""
        setup = await enrolment.begin_totp(call, pool, actor.session, actor.account, body.label)
        return TotpSetupView(factor_id=setup.factor.id, secret=setup.secret, uri=setup.uri, qr_svg=setup.qr_svg)

    @router.post(
        "/me/factors/{factorId}/confirm",
        response_model=Enrolled,
        response_model_exclude_none=True,
        responses=problem_responses(429),
    )
    async def confirm_factor(
        factor_id: FactorId, body: ConfirmTotp, actor: Current, pool: PoolDep, call: CallDep
    ) -> Enrolled:
        """Enrols a pending factor with its first code (403 `invalid_code`, counted toward the lockout). The
        account's first factor comes with ten recovery codes, shown this once; from then on sign-in asks for a
        second factor."""
        done = await enrolment.confirm_totp(call, pool, actor.session, actor.account, factor_id, body.code)
        return Enrolled(factor=FactorView.of(done.factor), recovery_codes=done.recovery_codes)

    @router.post("/me/factors/passkey/options", response_model=PasskeyOptions, responses=problem_responses(409))
    async def passkey_options(actor: Current, pool: PoolDep, call: CallDep) -> PasskeyOptions:
        """Starts registering a passkey: options for `navigator.credentials.create()` (a discoverable credential
        where the authenticator can make one, user verification preferred, no attestation, the account's own
        passkeys excluded; its challenge is single use, bound to this account, 5 minutes). 403 `factors_off`,
        403 `step_up_required` as for an authenticator app, 409 `passkeys_unavailable` when there is
        no relying party (an environment's `passkeyRpId` and `passkeyOrigins`; for tenant accounts,
        `SUMP_PUBLIC_URL`'s host, which must not be an IP address)."""
        options = await passkeys.registration_options(call, pool, actor.session, actor.account)
        return PasskeyOptions(public_key=options.public_key, expires_in=options.expires_in)

    @router.post(
        "/me/factors/passkey",
        status_code=201,
        response_model=Enrolled,
        response_model_exclude_none=True,
        responses=problem_responses(409, 429),
    )
    async def new_passkey(body: NewPasskey, actor: Current, pool: PoolDep, call: CallDep) -> Enrolled:
        """Registers the passkey `navigator.credentials.create()` made from those options: it is enrolled at
        once (the account's first factor comes with ten recovery codes, shown this once). 401
        `invalid_challenge`; 401 `invalid_passkey` saying why (origin, relying-party id, signature); 409
        `passkey_exists` when an account here (this one or another) already has a passkey of that id."""
        done = await passkeys.register(call, pool, actor.session, actor.account, body.credential.as_json(), body.label)
        return Enrolled(factor=FactorView.of(done.factor), recovery_codes=done.recovery_codes)

    @router.delete("/me/factors/{factorId}", status_code=204)
    async def remove_factor(factor_id: FactorId, actor: Current, pool: PoolDep, call: CallDep) -> None:
        """Removes a factor (step-up first: 403 `step_up_required`); with the last one go the recovery codes."""
        await enrolment.remove(call, pool, actor.session, actor.account, factor_id)

    @router.post("/me/recovery-codes", response_model=RecoveryCodes)
    async def new_recovery_codes(actor: Current, pool: PoolDep, call: CallDep) -> RecoveryCodes:
        """Ten new recovery codes, shown this once; the old ones stop working. Step-up first (403
        `step_up_required`); 403 `no_factor` without a second factor."""
        return RecoveryCodes(recovery_codes=await enrolment.regenerate_codes(call, pool, actor.session, actor.account))

    @router.post("/step-up", response_model=SteppedUp, responses=problem_responses(429))
    async def step_up(body: StepUp, actor: Current, pool: PoolDep, call: CallDep) -> SteppedUp:
        """Proves the account again: a second factor (a code, a recovery code or a passkey's assertion), or the
        current password of an account without one. For 5 minutes this session may change the email, password
        or factors, delete accounts and rotate keys. 403 `invalid_code`, `invalid_passkey` or `wrong_password`
        (counted toward the lockout); 403 `no_factor` for a code without a factor, `second_factor_required` for
        a password with one."""
        credential = body.credential.as_json() if body.credential is not None else None
        until = await factors.step_up(
            call, pool, actor.session, actor.account, body.factor, body.code, credential, body.current_password
        )
        return SteppedUp(elevated_until=until)

    @router.post("/step-up/passkey/options", response_model=PasskeyOptions, responses=problem_responses(409))
    async def step_up_options(actor: Current, pool: PoolDep, call: CallDep) -> PasskeyOptions:
        """Options for stepping up with one of the account's passkeys: send the answer of
        `navigator.credentials.get()` to `…/step-up` as `credential`. 403 `no_passkey`."""
        options = await passkeys.step_up_options(call, pool, actor.account)
        return PasskeyOptions(public_key=options.public_key, expires_in=options.expires_in)

    return router


tenant_router = family_router(AccountType.TENANT_ACCOUNT)
environment_router = family_router(AccountType.ENVIRONMENT_ACCOUNT)
admin_router = APIRouter(tags=["second factors"], responses=problem_responses(400, 401, 403, 404))


@admin_router.delete("/tenants/{tenantId}/accounts/{accountId}/factors", response_model=FactorsReset)
async def reset_tenant_account_factors(account_id: AccountId, actor: TenantMember, call: CallDep) -> FactorsReset:
    """Removes every second factor and recovery code of a tenant account (owners: anyone; admins: users), for
    one who lost them. Audited; the account is told by email. Step-up first when the admin has a factor."""
    return FactorsReset(removed=await admin.reset_tenant_account(call, actor, account_id))


@admin_router.delete("/environments/{environmentId}/accounts/{accountId}/factors", response_model=FactorsReset)
async def reset_end_user_factors(account_id: AccountId, actor: EnvironmentActorDep, call: CallDep) -> FactorsReset:
    """Removes every second factor and recovery code of an end user (the tenant's owners and admins). Audited;
    the end user is told by email. Step-up first when the admin has a factor."""
    return FactorsReset(removed=await admin.reset_end_user(call, actor, account_id))
