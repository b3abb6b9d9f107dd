"""Checks of the settings the optional integrations read (tenancy.E101-E119, W101-W119)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register

from ..conf import tenancy_settings
from .common import AppConfigs, Messages

TASK_UNAVAILABLE_CHOICES = ("fail", "skip")


@register(Tags.compatibility)
def check_task_unavailable_tenant(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E101: TASK_UNAVAILABLE_TENANT is 'fail' or 'skip'."""
    value = tenancy_settings.raw("TASK_UNAVAILABLE_TENANT")
    if value in TASK_UNAVAILABLE_CHOICES:
        return []
    return [
        Error(
            f"TENANCY['TASK_UNAVAILABLE_TENANT'] is {value!r}; it must be 'fail' or 'skip'.",
            hint="'fail' (the default) makes a task whose tenant is gone or not active fail "
            "with TenantUnavailable; 'skip' ignores it with a warning.",
            id="tenancy.E101",
        )
    ]
