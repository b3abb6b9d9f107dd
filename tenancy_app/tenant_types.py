"""Tenant types: which tenant apps and URLconf each kind of tenant has, and its template schema."""

from __future__ import annotations

from .conf import tenancy_settings


def template_schemas() -> frozenset[str]:
    """The names of every template schema."""
    return frozenset({tenancy_settings.TEMPLATE_SCHEMA})
