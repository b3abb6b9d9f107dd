"""The same view with tenancy_app: the items table lives in every tenant schema.

``BENCH_SEARCH_PATH_SCOPE`` chooses ``TENANCY["SEARCH_PATH_SCOPE"]`` (default ``session``),
``BENCH_REGISTRY_MAX_AGE`` ``TENANCY["REGISTRY_MAX_AGE"]`` (default 5 s: the instruction
count raises it, so that no lookup expires during its requests).
"""

from __future__ import annotations

from typing import Any

from .settings_base import *  # noqa: F403
from .settings_base import MIDDLEWARE, database, env

DATABASES = {"default": database("tenancy_app.backends.postgresql")}

TENANCY: dict[str, Any] = {
    "SHARED_APPS": ["tenancy_app"],
    "TENANT_APPS": ["project.items"],
    "SEARCH_PATH_SCOPE": env.str("BENCH_SEARCH_PATH_SCOPE", default="session"),
    "REGISTRY_MAX_AGE": env.float("BENCH_REGISTRY_MAX_AGE", default=5.0),
}
INSTALLED_APPS = ["tenancy_app", "project.items"]
DATABASE_ROUTERS = ["tenancy_app.routers.TenantRouter"]
MIDDLEWARE = ["tenancy_app.middleware.TenantMiddleware", *MIDDLEWARE]
