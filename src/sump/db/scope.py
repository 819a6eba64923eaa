"""Where every statement on a tenant's rows starts: a `Scope` is one tenant, or one environment, and each
statement it begins is already bound to it. Repositories build on these instead of writing the condition by
hand, so a query without its tenant or environment cannot be written by accident.

A scope's id is a value, or a bound parameter: a statement built once at import (the session check's) is
bound to the id it is executed with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from sqlalchemy import BindParameter, ColumnElement, Delete, Select, Update, and_, delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute

_T0 = TypeVar("_T0")
_T1 = TypeVar("_T1")


def _model(entity: Any) -> type[Any] | None:
    """The mapped class of a model or of one of its columns (`Membership.role` → `Membership`)."""
    return entity if isinstance(entity, type) else getattr(entity, "class_", None)


ScopeId = uuid.UUID | BindParameter[uuid.UUID]


@dataclass(frozen=True)
class Scope:
    column: str  # "tenant_id" or "environment_id"
    id: ScopeId

    def of(self, *models: type[Any]) -> ColumnElement[bool]:
        """The condition that binds each of `models` to this scope (for joins)."""
        return and_(*(getattr(model, self.column) == self.id for model in models))

    @overload
    def select(self, entity: type[_T0] | InstrumentedAttribute[_T0], /) -> Select[_T0]: ...

    @overload
    def select(
        self, first: type[_T0] | InstrumentedAttribute[_T0], second: type[_T1] | InstrumentedAttribute[_T1], /
    ) -> Select[_T0, _T1]: ...

    @overload
    def select(self, *entities: Any) -> Select[*tuple[Any, ...]]: ...

    def select(self, *entities: Any) -> Select[*tuple[Any, ...]]:
        """`SELECT entities` bound to this scope for every model they name (models and their columns)."""
        models = dict.fromkeys(model for model in map(_model, entities) if model is not None)
        return select(*entities).where(self.of(*models))

    def count(self, model: type[Any]) -> Select[int]:
        return select(func.count()).select_from(model).where(self.of(model))

    def update(self, model: type[Any]) -> Update:
        return update(model).where(self.of(model))

    def delete(self, model: type[Any]) -> Delete:
        return delete(model).where(self.of(model))


def tenant(tenant_id: ScopeId) -> Scope:
    return Scope("tenant_id", tenant_id)


def environment(environment_id: ScopeId) -> Scope:
    return Scope("environment_id", environment_id)
