from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RolesConfig(AppConfig):
    """Members' roles, one table per schema (in SHARED_APPS and the tenant apps)."""

    name = "tenancy_app.contrib.users.roles"
    label = "tenancy_roles"
    verbose_name = _("Roles")
    default_auto_field = "django.db.models.BigAutoField"
