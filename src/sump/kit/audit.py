"""Recording audit events, for every feature. An event is written in the transaction of the change it
describes, so the two commit together; a failed attempt (which rolls its transaction back) is recorded apart,
in its own. Reading the log is the audit feature's (`sump.audit`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.inserts import insert_values
from sump.db.tables.audit import AuditEvent
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.tenant_accounts import TenantAccount
from sump.kit.call import Call
from sump.kit.context import acting_client_var, client_var, request_id_var
from sump.kit.errors import Problem


@dataclass(frozen=True)
class Ref:
    """Who or what: a type and an id."""

    type: str
    id: uuid.UUID | None


OPERATOR = Ref("operator", None)  # who the log names for what the command line does (`sump tenants …`)


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a change of settings (or of any values that hold no secret) did, for its event: each key whose value
    moved, with the value before and after."""
    return {key: {"from": before.get(key), "to": value} for key, value in after.items() if before.get(key) != value}


def ref(account: TenantAccount | EnvironmentAccount) -> Ref:
    kind = "tenant_account" if isinstance(account, TenantAccount) else "environment_account"
    return Ref(kind, account.id)


async def record(
    db: AsyncSession,
    action: str,
    *,
    tenant_id: uuid.UUID,
    environment_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    actor: Ref | None = None,
    target: Ref | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> None:
    ip, agent = client_var.get()
    acting = acting_client_var.get()
    if actor is not None and acting is not None and actor.id == acting:
        actor = Ref("client", acting)  # an automation client acts through a stand-in account of the same id
    values = {
        "tenant_id": tenant_id,
        "environment_id": environment_id,
        "organization_id": organization_id,
        "action": action,
        "outcome": outcome,
        "actor_type": actor.type if actor else None,
        "actor_id": actor.id if actor else None,
        "target_type": target.type if target else None,
        "target_id": target.id if target else None,
        "ip_address": ip[:45],
        "user_agent": agent,
        "request_id": request_id_var.get(),
        "details": details or {},
    }
    await insert_values(db, AuditEvent, values)  # read back by the audit API only, never in this request


# Refusals for load (the per-address budget, a full hashing pool) are no attempt on an account.
LOAD_CODES = frozenset({"rate_limited", "overloaded"})


def record_failure(
    call: Call,
    action: str,
    problem: Problem,
    *,
    tenant_id: uuid.UUID,
    environment_id: uuid.UUID | None,
    target: Ref | None = None,
    **details: Any,
) -> None:
    """For a refused request: recorded with the problem's code (and the account it aimed at, when known), in
    a transaction of its own once the request's has been rolled back (so it holds no locks). A refusal for
    load is no attempt on anything and is not recorded."""
    if problem.code in LOAD_CODES:
        return
    fields = {"code": problem.code, **details}

    async def write() -> None:
        async with call.runtime.sessionmaker() as db:
            await record(
                db,
                action,
                tenant_id=tenant_id,
                environment_id=environment_id,
                target=target,
                outcome="failure",
                details=fields,
            )
            await db.commit()  # the row alone: on PostgreSQL one statement, no BEGIN and COMMIT

    call.after_rollback(write)
