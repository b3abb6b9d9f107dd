"""Schema-per-tenant PostgreSQL multi-tenancy for Django."""

from __future__ import annotations

from typing import Any

from .context import (
    get_current_schema,
    get_current_tenant,
    public_context,
    schema_context,
    tenant_context,
)

__all__ = [
    "across_tenants",
    "delete_tenant",
    "get_current_schema",
    "get_current_tenant",
    "get_domain_model",
    "get_tenant_model",
    "provision_tenant",
    "public_context",
    "schema_context",
    "tenant_context",
]

_LAZY = {
    "across_tenants": "across",
    "provision_tenant": "provisioning",
    "delete_tenant": "provisioning",
    "get_tenant_model": "models",
    "get_domain_model": "models",
}


def __getattr__(name: str) -> Any:
    # Model-related names import lazily: this package is imported while apps load.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
