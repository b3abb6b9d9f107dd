"""Where a data migration runs: only in public, only in tenants, or everywhere but the template.

A ``RunPython`` or ``RunSQL`` operation runs in every schema where its app has tables
(see :mod:`tenancy_app.routers`). For an app listed in both ``SHARED_APPS`` and the
tenant apps that is the public schema, the template schema and every tenant schema;
and whatever ran in the template is copied into each tenant provisioned later. A
:class:`Scope` narrows that (it never widens it) and says whether new tenants get the
operation's effect:

=============================  =======  ================  ==========================
scope                          public   existing tenants  template and new tenants
=============================  =======  ================  ==========================
``in_public``                  yes      no                no
``in_tenants``                 no       yes               no
``in_tenants(new_tenants=True)``  no    yes               yes
``everywhere_but_template``    yes      yes               no
=============================  =======  ================  ==========================

"New tenants" are the tenants provisioned after the migration ran: copied from the
template (where the operation did not run, so its effect is not copied) or, with
``method="migrate"``, migrated in a schema whose tenant is still *provisioning* (where
the operation is skipped too), so both provisioning methods give the same tenant.

The scope is checked when the operation runs, from the schema being migrated (the
context's, see :mod:`tenancy_app.context`); the same check serves ``migrate_schemas``,
Django's ``migrate`` in one schema, provisioning and the template. The public helpers
are re-exported by ``tenancy_app.migrations`` for use in migration files.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from django.db import connections
from django.db.migrations.operations import RunPython, RunSQL
from psycopg import sql

from .conf import tenancy_settings
from .context import get_current_schema, get_current_tenant, public_context

__all__ = [
    "HINT",
    "Scope",
    "everywhere_but_template",
    "in_public",
    "in_tenants",
    "runs_here",
    "scope_of",
]

#: The router hint a scoped ``RunPython`` / ``RunSQL`` carries (kept in migration files).
HINT = "tenancy_scope"

Operation = TypeVar("Operation", RunPython, RunSQL)
Function = Callable[[Any, Any], Any]


@dataclass(frozen=True, slots=True)
class Scope:
    """The schemas an operation runs in (within those where its app has tables)."""

    public: bool = False
    tenants: bool = False
    #: the template schemas, and so the tenants provisioned after the operation ran
    template: bool = False

    @property
    def hint(self) -> str:
        """The value kept in the operation's hints, e.g. ``"public+tenants"``."""
        parts = [name for name in ("public", "tenants", "template") if getattr(self, name)]
        return "+".join(parts)

    @classmethod
    def from_hint(cls, value: str) -> Scope:
        parts = set(value.split("+"))
        unknown = parts - {"public", "tenants", "template"}
        if unknown:
            raise ValueError(f"Unknown {HINT} hint {value!r}.")
        return cls("public" in parts, "tenants" in parts, "template" in parts)

    def describe(self) -> str:
        """For ``migrate_schemas --plan``: where the operation runs."""
        where = []
        if self.public:
            where.append("public")
        if self.tenants:
            where.append("tenants" if self.template else "existing tenants")
        if self.template:
            where.append("template")
        return " and ".join(where) or "nowhere"


def _is_template(schema_name: str) -> bool:
    from .tenant_types import template_schemas

    return schema_name in template_schemas()


def _is_new_tenant(schema_name: str, using: str) -> bool:
    """Whether ``schema_name`` belongs to a tenant being provisioned right now."""
    from .models import TenantStatus, get_tenant_model

    tenant = get_current_tenant()
    if tenant is not None and tenant.schema_name == schema_name:
        return bool(tenant.status == TenantStatus.PROVISIONING)
    # Read in the connection's own transaction, which sees the provisioning's rows.
    table = sql.Identifier(tenancy_settings.PUBLIC_SCHEMA, get_tenant_model()._meta.db_table)
    with public_context(), connections[using].cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT status FROM {} WHERE schema_name = %s").format(table), [schema_name]
        )
        row = cursor.fetchone()
    return row is not None and row[0] == TenantStatus.PROVISIONING


def runs_here(scope: Scope, using: str) -> bool:
    """Whether an operation of ``scope`` runs in the schema being migrated now."""
    schema_name = get_current_schema()
    if schema_name == tenancy_settings.PUBLIC_SCHEMA:
        return scope.public
    if _is_template(schema_name):
        return scope.template
    if not scope.tenants:
        return False
    return scope.template or not _is_new_tenant(schema_name, using)


def scope_of(operation: Any) -> Scope | None:
    """The scope of a ``RunPython`` / ``RunSQL`` operation, or ``None`` if it has none."""
    hints = getattr(operation, "hints", None) or {}
    if HINT in hints:
        return Scope.from_hint(hints[HINT])
    code = getattr(operation, "code", None)
    found = getattr(code, "tenancy_scope", None)
    return found if isinstance(found, Scope) else None


@overload
def _scoped(target: Operation, scope: Scope) -> Operation: ...


@overload
def _scoped(target: Function, scope: Scope) -> Function: ...


def _scoped(target: Any, scope: Scope) -> Any:
    if isinstance(target, RunPython | RunSQL):
        current = target.hints.get(HINT)
        if current is not None and current != scope.hint:
            raise ValueError(f"{target!r} already has the scope {current!r}.")
        target.hints = {**target.hints, HINT: scope.hint}
        return target
    if not callable(target):
        raise TypeError(
            "Scope a RunPython function (decorator or call) or a RunPython / RunSQL "
            f"operation, not {target!r}."
        )

    @functools.wraps(target)
    def scoped(apps: Any, schema_editor: Any) -> Any:
        if runs_here(scope, schema_editor.connection.alias):
            return target(apps, schema_editor)
        return None

    scoped.tenancy_scope = scope  # type: ignore[attr-defined]
    return scoped


@overload
def in_public(target: Operation) -> Operation: ...


@overload
def in_public(target: Function) -> Function: ...


def in_public(target: Any) -> Any:
    """Run a ``RunPython`` function, or a ``RunPython`` / ``RunSQL`` operation, only in
    the public schema."""
    return _scoped(target, Scope(public=True))


def in_tenants(target: Any = None, *, new_tenants: bool = False) -> Any:
    """Run it only in the schemas of the tenants that exist when it is applied.

    Never in public, never in the template, never in tenants provisioned later. With
    ``new_tenants=True`` it runs in the template schema too, so every tenant provisioned
    later starts with its effect (copied, or run while migrating the new schema).
    ``@in_tenants`` and ``@in_tenants(new_tenants=True)`` decorate a function.
    """
    scope = Scope(tenants=True, template=new_tenants)
    if target is None:
        return functools.partial(_scoped, scope=scope)
    return _scoped(target, scope)


@overload
def everywhere_but_template(target: Operation) -> Operation: ...


@overload
def everywhere_but_template(target: Function) -> Function: ...


def everywhere_but_template(target: Any) -> Any:
    """Run it in public and in the existing tenants' schemas, not in the template (so
    tenants provisioned later never get its effect)."""
    return _scoped(target, Scope(public=True, tenants=True))
