"""Admin for the tenant registry: reachable from the public schema only.

The registry tables live in the shared schema, which a tenant's search_path also
reaches; so every permission here is refused unless the request runs in the public
schema, and a tenant's admin never lists other tenants.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .conf import tenancy_settings
from .context import get_current_schema
from .models import get_domain_model, get_tenant_model
from .provisioning import provision_tenant


def _in_public_schema() -> bool:
    return get_current_schema() == tenancy_settings.PUBLIC_SCHEMA


class PublicOnlyAdminMixin:
    """Refuses every admin permission outside the public schema."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _in_public_schema() and super().has_module_permission(request)  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _in_public_schema() and super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return _in_public_schema() and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _in_public_schema() and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _in_public_schema() and super().has_delete_permission(request, obj)  # type: ignore[misc]


class DomainInline(PublicOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = get_domain_model()
    extra = 0


class TenantAdmin(PublicOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "schema_name", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "schema_name", "domains__domain"]
    inlines = [DomainInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:  # provisioning decides the status
            return ["status", "created_at", "updated_at"]
        # The schema name is fixed once the schema exists.
        return ["schema_name", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """A new tenant is provisioned (schema, tables, post-migrate rows), not just saved."""
        if change:
            super().save_model(request, obj, form, change)
            return
        tenant = provision_tenant(schema_name=obj.schema_name, name=obj.name)
        obj.pk = tenant.pk
        obj._state.adding = False
        obj.refresh_from_db()


class DomainAdmin(PublicOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain", "tenant__name", "tenant__schema_name"]
    list_select_related = ["tenant"]


admin.site.register(get_tenant_model(), TenantAdmin)
admin.site.register(get_domain_model(), DomainAdmin)
