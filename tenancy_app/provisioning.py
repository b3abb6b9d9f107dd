"""Create and delete tenants as single operations.

``provision_tenant`` registers the tenant, creates its schema, migrates the tenant apps
into it (which also runs the post-migrate handlers: content types and permissions in
that schema) and marks it active, all in one transaction: if any step fails, the
registry rows and the schema are rolled back together and :class:`ProvisioningError`
names the step.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction

from .conf import tenancy_settings
from .context import public_context
from .exceptions import ProvisioningError, SchemaAlreadyExists, TenantAlreadyExists
from .migration import migrate_schema
from .models import (
    TenantBase,
    TenantStatus,
    get_domain_model,
    get_tenant_model,
    validate_host_name,
    validate_tenant_schema_name,
)
from .schemas import create_schema, drop_schema


def provision_tenant(
    *,
    schema_name: str,
    name: str,
    domain: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
    **fields: Any,
) -> TenantBase:
    """Create an active tenant with its schema, tables and post-migrate rows.

    Raises :class:`~tenancy_app.exceptions.InvalidSchemaName` (before any SQL),
    :class:`~tenancy_app.exceptions.TenantAlreadyExists`,
    :class:`~tenancy_app.exceptions.SchemaAlreadyExists` or
    :class:`~tenancy_app.exceptions.ProvisioningError`; none leaves anything behind.
    """
    validate_tenant_schema_name(schema_name)
    if domain is not None:
        validate_host_name(domain)
    step = "registering the tenant"
    try:
        with public_context(), transaction.atomic(using=using):
            tenant = get_tenant_model()(
                schema_name=schema_name, name=name, status=TenantStatus.PROVISIONING, **fields
            )
            tenant.save(using=using)
            if domain is not None:
                step = "registering the domain"
                domain_model: Any = get_domain_model()
                domain_model(tenant=tenant, domain=domain, is_primary=True).save(using=using)
            step = "creating the schema"
            create_schema(schema_name, using=using)
            step = "migrating the schema"
            migrate_schema(schema_name, using=using)
            step = "activating the tenant"
            tenant.status = TenantStatus.ACTIVE
            tenant.save(using=using, update_fields=["status", "updated_at"])
    except IntegrityError as exc:
        if step.startswith("registering"):
            raise TenantAlreadyExists(
                f"A tenant with schema {schema_name!r}"
                + (f" or domain {domain!r}" if domain else "")
                + " already exists."
            ) from exc
        raise ProvisioningError(schema_name, step, exc) from exc
    except (SchemaAlreadyExists, TenantAlreadyExists):
        raise
    except Exception as exc:
        raise ProvisioningError(schema_name, step, exc) from exc
    return tenant


def delete_tenant(tenant: TenantBase, *, drop: bool = True, using: str = DEFAULT_DB_ALIAS) -> None:
    """Delete the tenant's registry rows and, unless ``drop=False``, its schema (CASCADE)."""
    with public_context(), transaction.atomic(using=using):
        schema_name = tenant.schema_name
        tenant.delete(using=using)
        if drop and schema_name != tenancy_settings.PUBLIC_SCHEMA:
            drop_schema(schema_name, using=using, missing_ok=True)
