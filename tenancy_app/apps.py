from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class TenancyConfig(AppConfig):
    name = "tenancy_app"
    verbose_name = _("Tenancy")
    default_auto_field = "django.db.models.BigAutoField"
    default = True  # this module has two AppConfigs: "tenancy_app" means this one

    def ready(self) -> None:
        # Registers system checks and cache invalidation; runs no SQL.
        from django.apps import apps

        from . import checks, contenttypes, lookup, models, signals, sites, storage  # noqa: F401

        lookup.connect_invalidation()
        signals.connect_status_tracking(models.get_tenant_model())
        storage.connect_file_lifecycle()
        # Django's per-process caches of rows that each tenant schema has its own of.
        if apps.is_installed("django.contrib.contenttypes"):
            contenttypes.install()
        if apps.is_installed("django.contrib.sites"):
            sites.install()


class TenancyAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with :class:`~tenancy_app.admin_site.TenancyAdminSite` as
    ``admin.site``: list ``"tenancy_app.apps.TenancyAdminConfig"`` instead of
    ``"django.contrib.admin"`` (in ``TENANCY["SHARED_APPS"]`` and ``TENANCY["TENANT_APPS"]``).
    """

    default = False
    default_site = "tenancy_app.admin_site.TenancyAdminSite"
