"""List filters of the tenant admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..conf import tenancy_settings
from . import queries


class MigrationStateFilter(admin.SimpleListFilter):
    """Tenants by the last ``migrate_schemas`` result of their schema.

    Works on the queryset of :func:`queries.with_list_columns` (the tenant admin's
    ``get_queryset``): one condition on the same subqueries the list shows.
    """

    title = _("migration state")
    parameter_name = "migration_state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            (queries.UP_TO_DATE, _("up to date")),
            (queries.PENDING, _("pending")),
            (queries.FAILED, _("failed")),
            (queries.NEVER, _("never migrated")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if value is None:
            return queryset
        return queries.filter_migration_state(queryset, value)


class TenantTypeFilter(admin.SimpleListFilter):
    """Tenants by type (``TENANCY["TENANT_TYPES"]``), and those of a type not configured."""

    title = _("type")
    parameter_name = "type"
    NOT_CONFIGURED = "-"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            *((name, name) for name in tenancy_settings.TENANT_TYPES),
            (self.NOT_CONFIGURED, _("not configured")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if value is None:
            return queryset
        if value == self.NOT_CONFIGURED:
            return queryset.exclude(type__in=list(tenancy_settings.TENANT_TYPES))
        return queryset.filter(type=value)
