"""System checks for tenancy_app; every id is documented in docs/checks.rst.

Importing this package registers the checks (``TenancyConfig.ready()`` does). Only
tenancy.W141 and W162 need the database (``check --database``; migrate and
migrate_schemas run them); the others read settings, import dotted paths and look at the
app registry, so ``manage.py check`` runs them without a connection.

    installation  tenancy.E001-E003, E027, W001, E170  engine and its base, router, middleware,
                  admin
    placement     tenancy.E004-E010, W002  which apps live where; the registry models
    values        tenancy.E011-E019, E024-E026, E190, W003, W006  the values in settings.TENANCY
    isolation     tenancy.E020-E023, W004-W005  settings that would let tenants see each other
    types         tenancy.E161-E165, W161-W162  TENANT_TYPES and the registered tenants' types
    integrations  tenancy.E101                  settings of the optional integrations
    citus         tenancy.W141                  on Citus, shared tables tenant tables reference
    operations    tenancy.E121                  the audit trail's retention
"""

from __future__ import annotations

from .citus import check_reference_tables
from .installation import (
    check_admin_site,
    check_base_backend,
    check_database_engines,
    check_middleware,
    check_router,
)
from .integrations import check_task_unavailable_tenant
from .isolation import (
    check_admin,
    check_auth_content_types,
    check_caches,
    check_session_cookie_domain,
    check_sessions,
    check_shared_relations,
)
from .operations import check_audit_retention
from .placement import (
    check_app_lists,
    check_apps_placed,
    check_registry_models,
    check_tenancy_app_shared,
)
from .types import (
    check_tenant_types,
    check_tenants_types_configured,
    check_type_apps,
    check_type_urlconfs,
)
from .values import (
    check_limits,
    check_lookup_cache_alias,
    check_public_domains,
    check_resolvers,
    check_schema_names,
    check_search_path_scope,
    check_unknown_keys,
    check_urlconfs,
    check_views,
)

__all__ = [
    "check_admin",
    "check_admin_site",
    "check_app_lists",
    "check_apps_placed",
    "check_audit_retention",
    "check_auth_content_types",
    "check_base_backend",
    "check_caches",
    "check_database_engines",
    "check_limits",
    "check_lookup_cache_alias",
    "check_middleware",
    "check_public_domains",
    "check_reference_tables",
    "check_registry_models",
    "check_resolvers",
    "check_router",
    "check_schema_names",
    "check_search_path_scope",
    "check_session_cookie_domain",
    "check_sessions",
    "check_shared_relations",
    "check_task_unavailable_tenant",
    "check_tenancy_app_shared",
    "check_tenant_types",
    "check_tenants_types_configured",
    "check_type_apps",
    "check_type_urlconfs",
    "check_unknown_keys",
    "check_urlconfs",
    "check_views",
]
