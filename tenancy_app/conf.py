"""The one settings object: ``tenancy_settings``, a typed view over ``settings.TENANCY``.

Values are read from Django's settings on every access, so ``override_settings``
works in tests without reloading anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "SHARED_APPS": [],
    "TENANT_APPS": [],
    "TENANT_MODEL": "tenancy_app.Tenant",
    "DOMAIN_MODEL": "tenancy_app.Domain",
    "RESOLVERS": ["tenancy_app.resolvers.DomainResolver"],
    "PUBLIC_DOMAINS": [],
    "PUBLIC_URLCONF": None,
    "TENANT_URLCONF": None,
    "PUBLIC_SCHEMA": "public",
    "TEMPLATE_SCHEMA": "tenancy_template",
    "PROVISION_FROM_TEMPLATE": True,
    "EXTRA_SEARCH_PATH": [],
    "HEADER_NAME": "X-Tenant-ID",
    "SUBFOLDER_PREFIX": "t",
    "NOT_FOUND_VIEW": "tenancy_app.views.tenant_not_found",
    "UNAVAILABLE_VIEW": "tenancy_app.views.tenant_unavailable",
    "LOOKUP_CACHE_SIZE": 10_000,
    "LOOKUP_CACHE_ALIAS": None,
    "MAX_SCHEMAS_PER_CONNECTION": None,
    "SEARCH_PATH_SCOPE": "session",
}


class TenancySettings:
    """Typed, read-on-access access to ``settings.TENANCY`` merged with :data:`DEFAULTS`."""

    def _get(self, name: str) -> Any:
        user = getattr(settings, "TENANCY", None) or {}
        return user.get(name, DEFAULTS[name])

    def user_keys(self) -> set[str]:
        """The keys the project set in ``settings.TENANCY`` (for the unknown-key check)."""
        return set(getattr(settings, "TENANCY", None) or {})

    @property
    def SHARED_APPS(self) -> Sequence[str]:
        return tuple(self._get("SHARED_APPS"))

    @property
    def TENANT_APPS(self) -> Sequence[str]:
        return tuple(self._get("TENANT_APPS"))

    @property
    def TENANT_MODEL(self) -> str:
        return str(self._get("TENANT_MODEL"))

    @property
    def DOMAIN_MODEL(self) -> str:
        return str(self._get("DOMAIN_MODEL"))

    @property
    def RESOLVERS(self) -> Sequence[str]:
        return tuple(self._get("RESOLVERS"))

    @property
    def PUBLIC_DOMAINS(self) -> frozenset[str]:
        return frozenset(host.lower() for host in self._get("PUBLIC_DOMAINS"))

    @property
    def PUBLIC_URLCONF(self) -> str | None:
        value = self._get("PUBLIC_URLCONF")
        return str(value) if value else None

    @property
    def TENANT_URLCONF(self) -> str | None:
        value = self._get("TENANT_URLCONF")
        return str(value) if value else None

    @property
    def PUBLIC_SCHEMA(self) -> str:
        return str(self._get("PUBLIC_SCHEMA"))

    @property
    def TEMPLATE_SCHEMA(self) -> str:
        return str(self._get("TEMPLATE_SCHEMA"))

    @property
    def PROVISION_FROM_TEMPLATE(self) -> bool:
        """New tenants are copied from the template schema (else: migrations run in them)."""
        return bool(self._get("PROVISION_FROM_TEMPLATE"))

    @property
    def EXTRA_SEARCH_PATH(self) -> tuple[str, ...]:
        return tuple(self._get("EXTRA_SEARCH_PATH"))

    @property
    def HEADER_NAME(self) -> str:
        return str(self._get("HEADER_NAME"))

    @property
    def SUBFOLDER_PREFIX(self) -> str:
        return str(self._get("SUBFOLDER_PREFIX")).strip("/")

    @property
    def NOT_FOUND_VIEW(self) -> str:
        return str(self._get("NOT_FOUND_VIEW"))

    @property
    def UNAVAILABLE_VIEW(self) -> str:
        return str(self._get("UNAVAILABLE_VIEW"))

    @property
    def LOOKUP_CACHE_SIZE(self) -> int:
        return int(self._get("LOOKUP_CACHE_SIZE"))

    @property
    def LOOKUP_CACHE_ALIAS(self) -> str | None:
        value = self._get("LOOKUP_CACHE_ALIAS")
        return str(value) if value else None

    @property
    def MAX_SCHEMAS_PER_CONNECTION(self) -> int | None:
        value = self._get("MAX_SCHEMAS_PER_CONNECTION")
        return int(value) if value else None

    @property
    def SEARCH_PATH_SCOPE(self) -> str:
        """``"session"`` (default) or ``"transaction"`` (PgBouncer transaction pooling)."""
        return str(self._get("SEARCH_PATH_SCOPE"))


tenancy_settings = TenancySettings()
