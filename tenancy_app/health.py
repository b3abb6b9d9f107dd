"""Do the registry and the database agree? The report behind ``check_tenants`` and its view.

:func:`check_tenants` compares the tenant registry with the schemas of the database and
the migration files on disk, and lists every problem it finds:

``orphan_schema``
    a schema that no tenant owns (not public, not the template, not in
    ``EXTRA_SEARCH_PATH`` or ``UNMANAGED_SCHEMAS``, not created by an extension);
``missing_schema``
    a registered tenant whose schema does not exist (fixable: marked failed);
``stuck``
    a tenant still marked *provisioning*: provisioning runs in one transaction, so a
    committed row in that state was left by something that did not finish;
``failed``
    a tenant marked *failed*;
``behind``
    a tenant schema that lacks migrations present on disk;
``template_behind``
    a template schema (one per tenant type) lacks migrations (new tenants would migrate
    it first);
``orphan_domain``
    a domain row whose tenant row does not exist.

The cost does not grow with the number of tenants, except for reading what each schema
has applied: PostgreSQL takes a lock per table a statement reads, so those reads are
batched (one ``UNION ALL`` statement per 500 schemas, :mod:`tenancy_app.migrator.applied`).
With up to 500 tenants the report is six statements.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import audit
from .conf import tenancy_settings
from .context import public_context
from .exceptions import TenantError
from .lookup import clear_lookup_cache
from .migrator.status import pending_counts
from .models import TenantStatus, get_domain_model, get_tenant_model
from .names import validate_schema_name
from .schemas import drop_schema
from .tenant_types import template_schemas

__all__ = [
    "KINDS",
    "HealthReport",
    "Problem",
    "check_tenants",
    "drop_orphan_schema",
    "mark_missing_as_failed",
]

#: Every kind of problem, in the order the report lists them.
KINDS = (
    "missing_schema",
    "stuck",
    "failed",
    "behind",
    "template_behind",
    "orphan_schema",
    "orphan_domain",
)

# Schemas that exist in the database, except PostgreSQL's own and those an extension made
# (Citus, PostGIS's topology, ...: pg_depend records them with deptype 'e').
_SCHEMAS = """
    SELECT n.nspname FROM pg_catalog.pg_namespace n
     WHERE n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
       AND NOT EXISTS (
           SELECT 1 FROM pg_catalog.pg_depend d
            WHERE d.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
              AND d.objid = n.oid AND d.deptype = 'e'
       )
"""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that is wrong: its kind (see :data:`KINDS`), where, and in words."""

    kind: str
    schema_name: str
    message: str
    #: what ``check_tenants --fix`` would do about it, if anything
    fix: str = ""


@dataclass(slots=True)
class HealthReport:
    problems: list[Problem] = field(default_factory=list)
    tenants: int = 0
    schemas: int = 0
    #: each template schema (one per tenant type), with its missing migrations, or None
    #: when it does not exist yet (it is made on the first provisioning)
    templates: dict[str, int | None] = field(default_factory=dict)
    checked_at: datetime.datetime = field(default_factory=timezone.now)

    @property
    def ok(self) -> bool:
        return not self.problems

    def of_kind(self, kind: str) -> list[Problem]:
        return [problem for problem in self.problems if problem.kind == kind]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what the command's ``--format json`` and the view show)."""
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "tenants": self.tenants,
            "schemas": self.schemas,
            "templates": {
                name: {"exists": pending is not None, "pending": pending or 0}
                for name, pending in self.templates.items()
            },
            "counts": {kind: len(self.of_kind(kind)) for kind in KINDS},
            "problems": [asdict(problem) for problem in self.problems],
        }


def _existing_schemas(using: str) -> set[str]:
    with connections[using].cursor() as cursor:
        cursor.execute(_SCHEMAS)
        return {row[0] for row in cursor.fetchall()}


def _not_tenants() -> set[str]:
    return {
        tenancy_settings.PUBLIC_SCHEMA,
        tenancy_settings.TEMPLATE_SCHEMA,
        *template_schemas(),
        *tenancy_settings.EXTRA_SEARCH_PATH,
        *tenancy_settings.UNMANAGED_SCHEMAS,
    }


def _age(since: datetime.datetime | None, now: datetime.datetime) -> str:
    if since is None:
        return ""
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 120:
        return f" for {minutes} min"
    return f" for {minutes // 60} h" if minutes < 48 * 60 else f" for {minutes // 1440} days"


def check_tenants(*, using: str = DEFAULT_DB_ALIAS) -> HealthReport:
    """Compare the registry with the database; see the module's docstring for each kind."""
    report = HealthReport()
    now = report.checked_at
    tenant_model, domain_model = get_tenant_model(), get_domain_model()
    with public_context():
        registry = list(
            tenant_model._default_manager.using(using)
            .order_by("schema_name")
            .values_list("schema_name", "status", "updated_at")
        )
        schemas = _existing_schemas(using)
        orphan_domains = list(
            domain_model._default_manager.using(using)
            .filter(~Exists(tenant_model._default_manager.filter(pk=OuterRef("tenant_id"))))
            .order_by("domain")
            .values_list("domain", "tenant_id")
        )
        templates = sorted(template_schemas())
        present = [name for name, _, _ in registry if name in schemas]
        pending = pending_counts(
            present + [name for name in templates if name in schemas], using=using
        )
    report.tenants, report.schemas = len(registry), len(schemas)
    report.templates = {name: pending.get(name) for name in templates}

    for schema_name, status, _ in registry:
        if schema_name not in schemas:
            report.problems.append(
                Problem(
                    "missing_schema",
                    schema_name,
                    f"The tenant is registered ({status}) but its schema does not exist.",
                    fix="" if status == TenantStatus.FAILED else "mark the tenant failed",
                )
            )
    for schema_name, status, updated_at in registry:
        if status == TenantStatus.PROVISIONING:
            report.problems.append(
                Problem(
                    "stuck",
                    schema_name,
                    f"The tenant has been provisioning{_age(updated_at, now)}: whatever "
                    "created it did not finish.",
                )
            )
        elif status == TenantStatus.FAILED:
            report.problems.append(
                Problem(
                    "failed", schema_name, f"The tenant is marked failed{_age(updated_at, now)}."
                )
            )
    for schema_name in present:
        if pending.get(schema_name):
            count = pending[schema_name]
            report.problems.append(
                Problem(
                    "behind",
                    schema_name,
                    f"{count} migration{'s' if count != 1 else ''} on disk not applied; run "
                    "`manage.py migrate_schemas`.",
                )
            )
    for template, missing in report.templates.items():
        if missing:
            report.problems.append(
                Problem(
                    "template_behind",
                    template,
                    f"The template schema lacks {missing} migration(s); run "
                    "`manage.py migrate_schemas` (else the next new tenant migrates it first).",
                )
            )
    registered = {name for name, _, _ in registry}
    for schema_name in sorted(schemas - registered - _not_tenants()):
        report.problems.append(
            Problem(
                "orphan_schema",
                schema_name,
                "No tenant owns this schema. Drop it by name (`check_tenants --drop-orphan "
                f"{schema_name}`) or list it in TENANCY['UNMANAGED_SCHEMAS'].",
            )
        )
    for domain, tenant_id in orphan_domains:
        report.problems.append(
            Problem(
                "orphan_domain",
                "",
                f"The domain {domain!r} points at tenant id {tenant_id}, which does not exist.",
            )
        )
    report.problems.sort(key=lambda problem: KINDS.index(problem.kind))
    return report


def mark_missing_as_failed(report: HealthReport, *, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The safe repair: tenants whose schema is gone are marked *failed* (no longer served).

    Only the tenants of ``report`` whose schema is still missing now are changed, in one
    statement; returns their schema names.
    """
    names = [p.schema_name for p in report.of_kind("missing_schema") if p.fix]
    if not names:
        return []
    model = get_tenant_model()
    with public_context(), transaction.atomic(using=using):
        schemas = _existing_schemas(using)
        names = [name for name in names if name not in schemas]
        tenants = list(
            model._default_manager.using(using)
            .select_for_update()
            .filter(schema_name__in=names)
            .exclude(status=TenantStatus.FAILED)
        )
        model._default_manager.using(using).filter(pk__in=[t.pk for t in tenants]).update(
            status=TenantStatus.FAILED, updated_at=timezone.now()
        )
        audit.record(
            audit.Action.MARK_FAILED,
            tenants,
            {"reason": "the schema does not exist"},
            using=using,
        )
    clear_lookup_cache()
    return sorted(tenant.schema_name for tenant in tenants)


def drop_orphan_schema(name: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Drop the schema ``name`` (CASCADE) if and only if no tenant owns it.

    Refuses (:class:`~tenancy_app.exceptions.TenantError`) the public, template, extra
    and unmanaged schemas, a schema a tenant is registered for, and a schema that does
    not exist; the name is validated before any SQL.
    """
    validate_schema_name(name, reserved=_not_tenants())
    with public_context(), transaction.atomic(using=using):
        if get_tenant_model()._default_manager.using(using).filter(schema_name=name).exists():
            raise TenantError(f"The schema {name!r} belongs to a registered tenant: not dropped.")
        if name not in _existing_schemas(using):
            raise TenantError(f"There is no schema {name!r} (or an extension owns it).")
        with audit.operation(audit.Action.DROP_ORPHAN, name, using=using):
            drop_schema(name, using=using)
