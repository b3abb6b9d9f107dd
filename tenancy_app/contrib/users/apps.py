from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsersConfig(AppConfig):
    """Users and memberships, in the shared schema (``TENANCY["SHARED_APPS"]`` only)."""

    name = "tenancy_app.contrib.users"
    label = "tenancy_users"
    verbose_name = _("Users and memberships")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks and the user deletion guard; runs no SQL.
        from . import checks, signals  # noqa: F401
