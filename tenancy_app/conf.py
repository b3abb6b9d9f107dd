"""The one settings object: ``tenancy_settings``, a typed view over ``settings.TENANCY``.

Each key is declared once below, as a :class:`Setting` with its default, the conversion
to its typed value and a one-line description (docs/settings.rst says more). A value is
computed from Django's settings on first use and kept until ``settings.TENANCY`` changes
(Django's ``setting_changed`` signal, sent by ``override_settings`` and pytest-django's
``settings`` fixture), so the request path reads plain attributes and tests still see
their overrides at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import cached_property

T = TypeVar("T")


class Setting(Generic[T]):
    """One key of ``settings.TENANCY``: its default, its typed value and what it is for.

    A non-data descriptor: the converted value is stored in the instance's ``__dict__``
    on first access, so later reads are plain attribute reads.
    """

    def __init__(self, default: Any, convert: Callable[[Any], T], doc: str) -> None:
        self.default = default
        self.convert = convert
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...

    @overload
    def __get__(self, instance: TenancySettings, owner: type) -> T: ...

    def __get__(self, instance: TenancySettings | None, owner: type) -> T | Setting[T]:
        if instance is None:
            return self
        value = self.convert(instance.raw(self.name))
        instance.__dict__[self.name] = value
        return value


def _strings(value: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(item) for item in value)


def _optional_string(value: Any) -> str | None:
    return str(value) if value else None


def _optional_int(value: Any) -> int | None:
    return int(value) if value else None


def _hosts(value: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(host).lower() for host in value)


@dataclass(frozen=True, slots=True)
class TenantType:
    """One entry of ``TENANCY["TENANT_TYPES"]``: its name, its own apps and its URLconf."""

    name: str
    apps: tuple[str, ...]
    urlconf: str | None


def _tenant_types(value: Any) -> dict[str, TenantType]:
    """The configured types, read leniently: malformed entries are reported by the
    system checks (tenancy.E161), here they just have no apps."""
    if not isinstance(value, Mapping):
        return {}
    types = {}
    for name, entry in value.items():
        entry = entry if isinstance(entry, Mapping) else {}
        apps = entry.get("APPS", ())
        urlconf = entry.get("URLCONF")
        types[str(name)] = TenantType(
            name=str(name),
            apps=_strings(apps) if isinstance(apps, list | tuple) else (),
            urlconf=str(urlconf) if urlconf else None,
        )
    return types


class TenancySettings:
    """Typed access to ``settings.TENANCY``; every key is declared here, once."""

    SHARED_APPS = Setting([], _strings, "Apps whose tables live once, in the public schema.")
    TENANT_APPS = Setting([], _strings, "Apps whose tables exist in every tenant schema.")
    TENANT_TYPES = Setting(
        {},
        _tenant_types,
        "Kinds of tenants, each with its own apps (besides TENANT_APPS) and URLconf.",
    )
    TENANT_MODEL = Setting("tenancy_app.Tenant", str, "The tenant model, 'app_label.Model'.")
    DOMAIN_MODEL = Setting("tenancy_app.Domain", str, "The domain model, 'app_label.Model'.")
    RESOLVERS = Setting(
        ["tenancy_app.resolvers.DomainResolver"],
        _strings,
        "Dotted paths of the resolvers the middleware asks, in order.",
    )
    PUBLIC_DOMAINS = Setting([], _hosts, "Hosts served from the public schema.")
    PUBLIC_URLCONF = Setting(None, _optional_string, "URLconf of the public hosts.")
    TENANT_URLCONF = Setting(None, _optional_string, "URLconf of tenant requests.")
    PUBLIC_SCHEMA = Setting("public", str, "The shared schema.")
    TEMPLATE_SCHEMA = Setting(
        "tenancy_template", str, "The schema new tenants are copied from (reserved)."
    )
    PROVISION_FROM_TEMPLATE = Setting(
        True, bool, "New tenants are copied from the template schema (else migrated)."
    )
    EXTRA_SEARCH_PATH = Setting([], _strings, "Schemas searched after the tenant's and public.")
    HEADER_NAME = Setting("X-Tenant-ID", str, "The header HeaderResolver reads.")
    SUBFOLDER_PREFIX = Setting(
        "t",
        lambda value: str(value).strip("/"),
        "The path segment before SubfolderResolver's name.",
    )
    NOT_FOUND_VIEW = Setting(
        "tenancy_app.views.tenant_not_found", str, "The view for hosts that name no tenant."
    )
    UNAVAILABLE_VIEW = Setting(
        "tenancy_app.views.tenant_unavailable", str, "The view for tenants that are not active."
    )
    LOOKUP_CACHE_SIZE = Setting(10_000, int, "Entries kept by each process's tenant lookup cache.")
    LOOKUP_CACHE_ALIAS = Setting(
        None, _optional_string, "A shared cache through which registry changes reach every process."
    )
    REGISTRY_MAX_AGE = Setting(
        5.0,
        float,
        "Seconds a process acts on what it read from the registry before it reads it again.",
    )
    MAX_SCHEMAS_PER_CONNECTION = Setting(
        None, _optional_int, "Schemas a connection may visit before it is recycled."
    )
    UNMANAGED_SCHEMAS = Setting(
        [], _strings, "Schemas that are no tenant's, which check_tenants does not report."
    )
    AUDIT_RETENTION_DAYS = Setting(
        None, _optional_int, "Days the audit trail keeps its entries (None: for ever)."
    )
    BASE_BACKEND = Setting(
        "django.db.backends.postgresql",
        str,
        "The Django backend the tenancy backend is built over (e.g. PostGIS's); read once.",
    )
    SEARCH_PATH_SCOPE = Setting(
        "session", str, "'session' (default) or 'transaction' (PgBouncer transaction pooling)."
    )
    TASK_UNAVAILABLE_TENANT = Setting(
        "fail", str, "A Celery task whose tenant is gone or not active: 'fail' or 'skip'."
    )

    def raw(self, name: str) -> Any:
        """The value of key ``name`` as the project wrote it (or its default), read now.

        The system checks validate these raw values; code elsewhere reads the typed
        attributes.
        """
        user = getattr(settings, "TENANCY", None) or {}
        return user.get(name, self.declared()[name].default)

    @classmethod
    def declared(cls) -> dict[str, Setting[Any]]:
        """Every key tenancy_app knows, by name."""
        return {name: value for name, value in vars(cls).items() if isinstance(value, Setting)}

    def user_keys(self) -> set[str]:
        """The keys the project set in ``settings.TENANCY`` (for the unknown-key check)."""
        return set(getattr(settings, "TENANCY", None) or {})

    def clear(self) -> None:
        """Forget the computed values (``settings.TENANCY`` changed)."""
        self.__dict__.clear()

    @cached_property
    def RESERVED_SCHEMAS(self) -> tuple[str, ...]:
        """The project's own schemas, which no tenant may have: public and the template
        (and, with tenant types, each type's template)."""
        from .tenant_types import template_schema

        types = tuple(template_schema(name) for name in self.TENANT_TYPES)
        return (self.PUBLIC_SCHEMA, self.TEMPLATE_SCHEMA, *types)

    @cached_property
    def PUBLIC_SEARCH_PATH(self) -> tuple[str, ...]:
        """The search_path outside any tenant: the public schema, then EXTRA_SEARCH_PATH."""
        return (self.PUBLIC_SCHEMA, *self.EXTRA_SEARCH_PATH)


tenancy_settings = TenancySettings()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "TENANCY":
        tenancy_settings.clear()
