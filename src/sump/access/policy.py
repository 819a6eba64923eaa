"""The one idiom for "who may": a feature's `policy.py` states each rule once, as a function of the actor
(and the target) that answers None when allowed or a `Refusal` saying why not. Services enforce a rule with
`require(rule(...))`, routes with the `allowed(rule)` dependency, and console pages show a control enabled
when `rule(...) is None`, or disabled with the refusal's message."""

from __future__ import annotations

from dataclasses import dataclass

from sump.access.actors import TenantActor
from sump.db.tables.tenant_accounts import TenantRole
from sump.kit.errors import Problem


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    status: int = 403

    def problem(self) -> Problem:
        return Problem(self.status, self.code, self.message)


Verdict = Refusal | None


def require(verdict: Verdict) -> None:
    """Raises the refusal, if any, as its problem."""
    if verdict is not None:
        raise verdict.problem()


def at_least(actor: TenantActor, role: TenantRole) -> Verdict:
    """The tenant account holds `role` or a higher one."""
    if actor.role.rank < role.rank:
        return Refusal("insufficient_role", f"This needs the {role.value} role or higher.")
    return None


def admin(actor: TenantActor) -> Verdict:
    return at_least(actor, TenantRole.ADMIN)


def owner(actor: TenantActor) -> Verdict:
    return at_least(actor, TenantRole.OWNER)
