"""An AdminSite that shows each model only in the schemas that hold its tables.

The public schema holds the shared apps (``TENANCY["SHARED_APPS"]``), each tenant schema
the tenant apps (``TENANCY["TENANT_APPS"]``). On a tenant's domain the search_path ends
with the public schema, so a shared-only model such as the tenant registry would be
reachable from every tenant's admin; on the public domain a tenant-only model has no
table at all. :class:`TenancyAdminSite` refuses every admin permission for such a model
where it is not placed, for every ModelAdmin registered on it, so the one ``admin.site``
can be served on the public domain and on every tenant's domain.

Projects swap ``"django.contrib.admin"`` for ``"tenancy_app.apps.TenancyAdminConfig"``
in their app lists (Django's documented way to replace the default site), or
instantiate the site themselves. A ModelAdmin with ``reachable_everywhere = True`` is
left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.db import models
from django.http import HttpRequest

from .routers import placed_app_labels

__all__ = ["PlacementAdminMixin", "TenancyAdminSite", "model_is_placed"]


def model_is_placed(model: type[models.Model], schema_name: str | None = None) -> bool:
    """Whether ``model``'s table belongs in ``schema_name`` (default: the current schema).

    Shared apps are placed in the public schema, tenant apps in every tenant schema (with
    tenant types, the apps of the schema's type); an app in both lists is placed
    everywhere. A proxy model goes with its concrete model.
    """
    app_label = (model._meta.concrete_model or model)._meta.app_label
    return app_label in placed_app_labels(schema_name)


class PlacementAdminMixin:
    """Refuses module, view, add, change and delete permissions where the model is not placed.

    Put first in the bases of a ModelAdmin or an inline; :class:`TenancyAdminSite` adds it
    to every ModelAdmin registered on it. ``reachable_everywhere = True`` opts out.
    """

    # No class attribute here: the mixin comes first in the bases, and would hide a
    # ``reachable_everywhere = True`` of the ModelAdmin it is mixed into.
    reachable_everywhere: bool
    model: type[models.Model]

    def is_placed_here(self) -> bool:
        return getattr(self, "reachable_everywhere", False) or model_is_placed(self.model)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.is_placed_here() and super().has_module_permission(request)  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.is_placed_here() and super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        # ModelAdmin takes (request), InlineModelAdmin (request, obj).
        return self.is_placed_here() and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.is_placed_here() and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.is_placed_here() and super().has_delete_permission(request, obj)  # type: ignore[misc]

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        """Inlines of models not placed here are left out (their tables are elsewhere)."""
        inlines: list[InlineModelAdmin[Any, Any]] = super().get_inline_instances(  # type: ignore[misc]
            request, obj
        )
        return [
            inline
            for inline in inlines
            if getattr(inline, "reachable_everywhere", False) or model_is_placed(inline.model)
        ]


def _placed_admin_class(admin_class: type[admin.ModelAdmin[Any]]) -> type[admin.ModelAdmin[Any]]:
    if issubclass(admin_class, PlacementAdminMixin):
        return admin_class
    return type(
        admin_class.__name__,
        (PlacementAdminMixin, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )


class TenancyAdminSite(admin.AdminSite):
    """Django's AdminSite, with :class:`PlacementAdminMixin` applied to every ModelAdmin.

    ``tenant_site_header`` / ``tenant_site_title`` (default: the site's own) are shown on
    tenants' domains instead of ``site_header`` / ``site_title``; ``{tenant}`` in them is
    replaced by the tenant's name.
    """

    tenant_site_header: str | None = None
    tenant_site_title: str | None = None

    def register(
        self,
        model_or_iterable: type[models.Model] | Iterable[type[models.Model]],
        admin_class: type[admin.ModelAdmin[Any]] | None = None,
        **options: Any,
    ) -> None:
        super().register(
            model_or_iterable, _placed_admin_class(admin_class or admin.ModelAdmin), **options
        )

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            for key, value in (
                ("site_header", self.tenant_site_header),
                ("site_title", self.tenant_site_title),
            ):
                if value is not None:
                    context[key] = value.format(tenant=tenant.name)
        return context
