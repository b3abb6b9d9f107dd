"""Checks of the operations settings: the audit trail."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register

from ..conf import tenancy_settings
from .common import AppConfigs, Messages


@register(Tags.compatibility)
def check_audit_retention(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E121: AUDIT_RETENTION_DAYS is None or a positive number of days."""
    days = tenancy_settings.raw("AUDIT_RETENTION_DAYS")
    if days is None or (isinstance(days, int) and not isinstance(days, bool) and days > 0):
        return []
    return [
        Error(
            f"TENANCY['AUDIT_RETENTION_DAYS'] is {days!r}.",
            hint="Use a positive int (entries older than that many days are deleted when "
            "new ones are written) or None (the audit trail keeps every entry).",
            id="tenancy.E121",
        )
    ]
