"""The one settings object: ``tenancy_settings``, a typed view over ``settings.TENANCY``.

Each value is computed from Django's settings on first use and kept until
``settings.TENANCY`` changes (Django's ``setting_changed`` signal, sent by
``override_settings`` and pytest-django's ``settings`` fixture), so the request path reads
plain attributes and tests still see their overrides at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import cached_property

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
    """Typed access to ``settings.TENANCY`` merged with :data:`DEFAULTS`."""

    def clear(self) -> None:
        """Forget the computed values (``settings.TENANCY`` changed)."""
        self.__dict__.clear()

    def _get(self, name: str) -> Any:
        """The raw value, read now (the system checks validate these)."""
        user = getattr(settings, "TENANCY", None) or {}
        return user.get(name, DEFAULTS[name])

    def user_keys(self) -> set[str]:
        """The keys the project set in ``settings.TENANCY`` (for the unknown-key check)."""
        return set(getattr(settings, "TENANCY", None) or {})

    @cached_property
    def SHARED_APPS(self) -> Sequence[str]:
        return tuple(self._get("SHARED_APPS"))

    @cached_property
    def TENANT_APPS(self) -> Sequence[str]:
        return tuple(self._get("TENANT_APPS"))

    @cached_property
    def TENANT_MODEL(self) -> str:
        return str(self._get("TENANT_MODEL"))

    @cached_property
    def DOMAIN_MODEL(self) -> str:
        return str(self._get("DOMAIN_MODEL"))

    @cached_property
    def RESOLVERS(self) -> Sequence[str]:
        return tuple(self._get("RESOLVERS"))

    @cached_property
    def PUBLIC_DOMAINS(self) -> frozenset[str]:
        return frozenset(host.lower() for host in self._get("PUBLIC_DOMAINS"))

    @cached_property
    def PUBLIC_URLCONF(self) -> str | None:
        value = self._get("PUBLIC_URLCONF")
        return str(value) if value else None

    @cached_property
    def TENANT_URLCONF(self) -> str | None:
        value = self._get("TENANT_URLCONF")
        return str(value) if value else None

    @cached_property
    def PUBLIC_SCHEMA(self) -> str:
        return str(self._get("PUBLIC_SCHEMA"))

    @cached_property
    def TEMPLATE_SCHEMA(self) -> str:
        return str(self._get("TEMPLATE_SCHEMA"))

    @cached_property
    def PROVISION_FROM_TEMPLATE(self) -> bool:
        """New tenants are copied from the template schema (else: migrations run in them)."""
        return bool(self._get("PROVISION_FROM_TEMPLATE"))

    @cached_property
    def EXTRA_SEARCH_PATH(self) -> tuple[str, ...]:
        return tuple(self._get("EXTRA_SEARCH_PATH"))

    @cached_property
    def HEADER_NAME(self) -> str:
        return str(self._get("HEADER_NAME"))

    @cached_property
    def SUBFOLDER_PREFIX(self) -> str:
        return str(self._get("SUBFOLDER_PREFIX")).strip("/")

    @cached_property
    def NOT_FOUND_VIEW(self) -> str:
        return str(self._get("NOT_FOUND_VIEW"))

    @cached_property
    def UNAVAILABLE_VIEW(self) -> str:
        return str(self._get("UNAVAILABLE_VIEW"))

    @cached_property
    def LOOKUP_CACHE_SIZE(self) -> int:
        return int(self._get("LOOKUP_CACHE_SIZE"))

    @cached_property
    def LOOKUP_CACHE_ALIAS(self) -> str | None:
        value = self._get("LOOKUP_CACHE_ALIAS")
        return str(value) if value else None

    @cached_property
    def MAX_SCHEMAS_PER_CONNECTION(self) -> int | None:
        value = self._get("MAX_SCHEMAS_PER_CONNECTION")
        return int(value) if value else None

    @cached_property
    def SEARCH_PATH_SCOPE(self) -> str:
        """``"session"`` (default) or ``"transaction"`` (PgBouncer transaction pooling)."""
        return str(self._get("SEARCH_PATH_SCOPE"))

    @cached_property
    def PUBLIC_SEARCH_PATH(self) -> tuple[str, ...]:
        """The search_path outside any tenant: the public schema, then EXTRA_SEARCH_PATH."""
        return (self.PUBLIC_SCHEMA, *self.EXTRA_SEARCH_PATH)


tenancy_settings = TenancySettings()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "TENANCY":
        tenancy_settings.clear()
