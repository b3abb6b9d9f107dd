"""Checks of the values in settings.TENANCY."""

from __future__ import annotations

import difflib
import re
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from ..conf import TenancySettings, tenancy_settings
from ..exceptions import InvalidHostName, InvalidSchemaName
from ..hosts import normalize_host_name
from ..names import MAX_SCHEMA_NAME_BYTES, validate_schema_name
from .common import AppConfigs, Messages, is_subclass, load

RESOLVER_BASE = "tenancy_app.resolvers.BaseResolver"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")


@register(Tags.compatibility)
def check_schema_names(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E011-E013: PUBLIC_SCHEMA and TEMPLATE_SCHEMA are usable and distinct."""
    errors: Messages = []
    public, template = tenancy_settings.PUBLIC_SCHEMA, tenancy_settings.TEMPLATE_SCHEMA
    if not _IDENTIFIER.match(public) or len(public.encode()) > MAX_SCHEMA_NAME_BYTES:
        errors.append(
            Error(
                f"TENANCY['PUBLIC_SCHEMA'] is {public!r}, which is not a plain lower-case "
                "PostgreSQL identifier.",
                hint="Use lower-case ASCII letters, digits and underscores, not starting with "
                f"a digit, at most {MAX_SCHEMA_NAME_BYTES} bytes; usually 'public'.",
                id="tenancy.E011",
            )
        )
    if template == public:
        errors.append(
            Error(
                f"TENANCY['PUBLIC_SCHEMA'] and TENANCY['TEMPLATE_SCHEMA'] are both {public!r}: "
                "provisioning would copy the shared schema into every new tenant.",
                hint="Give the template schema a name of its own; the default is "
                "'tenancy_template'.",
                id="tenancy.E013",
            )
        )
        return errors
    try:
        validate_schema_name(template)
    except InvalidSchemaName as exc:
        errors.append(
            Error(
                f"TENANCY['TEMPLATE_SCHEMA'] is not a valid schema name: {exc}",
                hint="Use a name a tenant could have, e.g. 'tenancy_template'.",
                id="tenancy.E012",
            )
        )
    return errors


@register(Tags.compatibility)
def check_unknown_keys(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.W003: every key of settings.TENANCY is one the app reads."""
    warnings: Messages = []
    for key in sorted(tenancy_settings.user_keys() - TenancySettings.declared().keys()):
        close = difflib.get_close_matches(key, list(TenancySettings.declared()), n=1)
        warnings.append(
            Warning(
                f"TENANCY has an unknown key {key!r}; it is ignored.",
                hint=f"Did you mean {close[0]!r}?"
                if close
                else f"The known keys are: {', '.join(sorted(TenancySettings.declared()))}.",
                id="tenancy.W003",
            )
        )
    return warnings


@register(Tags.compatibility)
def check_resolvers(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E014: RESOLVERS is not empty; tenancy.E015: each entry is a resolver class."""
    resolvers = tenancy_settings.raw("RESOLVERS")
    if not isinstance(resolvers, list | tuple):
        return []  # tenancy.E004
    if not resolvers:
        return [
            Error(
                "TENANCY['RESOLVERS'] is empty: no request could ever find its tenant.",
                hint="Use at least ['tenancy_app.resolvers.DomainResolver'].",
                id="tenancy.E014",
            )
        ]
    return [
        Error(
            f"TENANCY['RESOLVERS'] has {path!r}, which is not an importable subclass of "
            f"{RESOLVER_BASE}.",
            hint="Correct the dotted path, or make the class subclass BaseResolver.",
            id="tenancy.E015",
        )
        for path in resolvers
        if not is_subclass(load(str(path)), RESOLVER_BASE)
    ]


@register(Tags.compatibility)
def check_views(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E016: NOT_FOUND_VIEW and UNAVAILABLE_VIEW import to callables."""
    errors: Messages = []
    for key in ("NOT_FOUND_VIEW", "UNAVAILABLE_VIEW"):
        path = str(tenancy_settings.raw(key))
        if not callable(load(path)):
            errors.append(
                Error(
                    f"TENANCY[{key!r}] is {path!r}, which is not an importable view.",
                    hint=f"Correct the dotted path, or remove TENANCY[{key!r}] to use the "
                    "default view.",
                    id="tenancy.E016",
                )
            )
    return errors


@register(Tags.urls)
def check_urlconfs(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E017: PUBLIC_URLCONF and TENANT_URLCONF are importable modules."""
    errors: Messages = []
    for key in ("PUBLIC_URLCONF", "TENANT_URLCONF"):
        module = tenancy_settings.raw(key)
        if not module:
            continue
        try:
            if not isinstance(module, str):
                raise TypeError("not a dotted module path")
            import_module(module)
        except Exception as exc:  # a broken URLconf can raise anything while importing
            errors.append(
                Error(
                    f"TENANCY[{key!r}] is {module!r}, which cannot be imported: {exc}",
                    hint="Use the dotted path of a URLconf module, or None.",
                    id="tenancy.E017",
                )
            )
    return errors


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@register(Tags.compatibility)
def check_limits(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E018: MAX_SCHEMAS_PER_CONNECTION; tenancy.E019: LOOKUP_CACHE_SIZE;
    tenancy.E026: REGISTRY_MAX_AGE."""
    errors: Messages = []
    max_schemas = tenancy_settings.raw("MAX_SCHEMAS_PER_CONNECTION")
    if max_schemas is not None and not (_is_int(max_schemas) and max_schemas > 0):
        errors.append(
            Error(
                f"TENANCY['MAX_SCHEMAS_PER_CONNECTION'] is {max_schemas!r}.",
                hint="Use a positive int (a connection is recycled after visiting that many "
                "schemas) or None (no limit).",
                id="tenancy.E018",
            )
        )
    size = tenancy_settings.raw("LOOKUP_CACHE_SIZE")
    if not (_is_int(size) and size >= 0):
        errors.append(
            Error(
                f"TENANCY['LOOKUP_CACHE_SIZE'] is {size!r}.",
                hint="Use an int >= 0; 0 turns the tenant lookup cache off.",
                id="tenancy.E019",
            )
        )
    max_age = tenancy_settings.raw("REGISTRY_MAX_AGE")
    if isinstance(max_age, bool) or not (isinstance(max_age, int | float) and max_age > 0):
        errors.append(
            Error(
                f"TENANCY['REGISTRY_MAX_AGE'] is {max_age!r}.",
                hint="Use a positive number of seconds: how long a process may act on what "
                "it read from the tenant registry (and how long deletes and renames wait).",
                id="tenancy.E026",
            )
        )
    return errors


@register(Tags.compatibility)
def check_search_path_scope(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E024: SEARCH_PATH_SCOPE; tenancy.W006: server-side cursors behind a pooler."""
    scope = tenancy_settings.raw("SEARCH_PATH_SCOPE")
    if scope not in ("session", "transaction"):
        return [
            Error(
                f"TENANCY['SEARCH_PATH_SCOPE'] is {scope!r}.",
                hint="Use 'session' (direct connections, Django's pool) or 'transaction' "
                "(PgBouncer transaction pooling, RDS Proxy).",
                id="tenancy.E024",
            )
        ]
    if scope != "transaction":
        return []
    return [
        Warning(
            f"TENANCY['SEARCH_PATH_SCOPE'] is 'transaction' but the database {alias!r} "
            "allows server-side cursors.",
            hint="Behind a transaction pooler a server-side cursor outlives the server "
            "session it was opened on: set DISABLE_SERVER_SIDE_CURSORS = True for it.",
            id="tenancy.W006",
        )
        for alias, database in settings.DATABASES.items()
        if not database.get("DISABLE_SERVER_SIDE_CURSORS", False)
    ]


@register(Tags.compatibility)
def check_lookup_cache_alias(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E025: LOOKUP_CACHE_ALIAS names a configured cache."""
    alias = tenancy_settings.raw("LOOKUP_CACHE_ALIAS")
    if alias is None or (isinstance(alias, str) and alias in settings.CACHES):
        return []
    return [
        Error(
            f"TENANCY['LOOKUP_CACHE_ALIAS'] is {alias!r}, which is not a cache in CACHES.",
            hint="Name a cache every process shares (Redis, Memcached, the database "
            "cache), or set None to keep lookups cached per process only.",
            id="tenancy.E025",
        )
    ]


@register(Tags.compatibility)
def check_public_domains(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E190: every host of PUBLIC_DOMAINS is a host name a request can carry."""
    hosts = tenancy_settings.raw("PUBLIC_DOMAINS")
    if not isinstance(hosts, list | tuple | set | frozenset):
        return []  # tenancy.E004
    errors: Messages = []
    for host in hosts:
        try:
            normal = normalize_host_name(str(host).lower())
        except InvalidHostName as exc:
            problem = exc.reason
        else:
            if normal == str(host).lower():
                continue
            problem = f"requests carry it as {normal!r}"
        errors.append(
            Error(
                f"TENANCY['PUBLIC_DOMAINS'] holds {host!r}, which no request's host matches: "
                f"{problem}.",
                hint="List host names as requests carry them, without port or scheme and in "
                "IDNA form, e.g. 'example.com' or 'xn--bcher-kva.example'.",
                id="tenancy.E190",
            )
        )
    return errors
