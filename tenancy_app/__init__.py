"""Schema-per-tenant PostgreSQL multi-tenancy for Django."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .context import (
    get_current_schema,
    get_current_tenant,
    public_context,
    schema_context,
    tenant_context,
)

if TYPE_CHECKING:  # the lazy names below, typed for checkers and editors
    from .across import across_tenants
    from .models import get_domain_model, get_tenant_model
    from .provisioning import (
        activate_tenant,
        clone_tenant,
        delete_tenant,
        delete_tenants,
        provision_tenant,
        rename_tenant,
        suspend_tenant,
    )

__all__ = [
    "across_tenants",
    "activate_tenant",
    "clone_tenant",
    "delete_tenant",
    "delete_tenants",
    "get_current_schema",
    "get_current_tenant",
    "get_domain_model",
    "get_tenant_model",
    "provision_tenant",
    "public_context",
    "rename_tenant",
    "schema_context",
    "suspend_tenant",
    "tenant_context",
]

_LAZY = {
    "across_tenants": "across",
    "activate_tenant": "provisioning",
    "clone_tenant": "provisioning",
    "delete_tenant": "provisioning",
    "delete_tenants": "provisioning",
    "provision_tenant": "provisioning",
    "rename_tenant": "provisioning",
    "suspend_tenant": "provisioning",
    "get_tenant_model": "models",
    "get_domain_model": "models",
}


def __getattr__(name: str) -> Any:
    # Model-related names import lazily: this package is imported while apps load.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
