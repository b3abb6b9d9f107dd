"""Admin for the tenant registry, on the public domain.

The registry tables live in the shared schema, which a tenant's search_path also
reaches; :class:`~tenancy_app.admin_site.PlacementAdminMixin` refuses every permission
where the registry is not placed (every tenant schema), on any AdminSite, so a tenant's
admin never lists other tenants.
"""

from __future__ import annotations

from django.contrib import admin

from ..admin_site import PlacementAdminMixin
from ..models import AuditEntry, get_domain_model, get_tenant_model
from .audit import AuditedAdminMixin, AuditEntryAdmin
from .domains import DomainAdmin
from .filters import MigrationStateFilter, TenantTypeFilter
from .tenants import DomainInline, TenantAdmin

__all__ = [
    "AuditEntryAdmin",
    "AuditedAdminMixin",
    "DomainAdmin",
    "DomainInline",
    "MigrationStateFilter",
    "PlacementAdminMixin",
    "TenantAdmin",
    "TenantTypeFilter",
]

admin.site.register(get_tenant_model(), TenantAdmin)
admin.site.register(get_domain_model(), DomainAdmin)
admin.site.register(AuditEntry, AuditEntryAdmin)
