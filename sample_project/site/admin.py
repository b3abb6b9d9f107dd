"""The public admin (localhost/admin/): the tenant registry and the operators' accounts.

New tenants are made with ``manage.py create_tenant`` (or ``demo``), which creates and
migrates the schema too; here their name, status and domains can be changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from tenancy_app import get_domain_model, get_tenant_model

public_admin_site = admin.AdminSite(name="public_admin")
public_admin_site.site_header = "Tenant registry"
public_admin_site.site_title = "Registry admin"

public_admin_site.register(User, UserAdmin)
public_admin_site.register(Group, GroupAdmin)


class DomainInline(admin.TabularInline):  # type: ignore[type-arg]
    model = get_domain_model()
    fields = ["domain", "is_primary"]
    extra = 0


@admin.register(get_tenant_model(), site=public_admin_site)
class TenantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "schema_name", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "schema_name", "domains__domain"]
    readonly_fields = ["schema_name", "created_at", "updated_at"]
    inlines = [DomainInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a tenant needs a schema: use `manage.py create_tenant`

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting drops a schema: use `manage.py delete_tenant`
