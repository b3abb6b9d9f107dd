"""The domain admin: every host name the middleware resolves to a tenant."""

from __future__ import annotations

from django.contrib import admin

from ..admin_site import PlacementAdminMixin
from .forms import DomainAdminForm


class DomainAdmin(PlacementAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = DomainAdminForm
    list_display = ["domain", "tenant", "is_primary"]
    list_filter = ["is_primary"]
    search_fields = ["domain", "tenant__name", "tenant__schema_name"]
    list_select_related = ["tenant"]
    autocomplete_fields = ["tenant"]
