"""A tenant-aware cache key function: tenants never share cache entries.

Point every cache at it::

    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379",
            "KEY_FUNCTION": "tenancy_app.cache.make_key",
        }
    }

The key then carries the schema that is active when the cache is used, so
``cache.get("dashboard")`` in tenant A never returns what tenant B stored. Entries
written outside any tenant context (commands, the public site) carry the public schema.
The system check ``tenancy.W005`` reports caches configured without it.

:func:`clear_tenant_cache` removes one tenant's entries from a Redis cache (Django's
``RedisCache`` or django-redis) and leaves every other tenant's; :func:`reverse_key` is
the inverse of :func:`make_key` for django-redis' ``REVERSE_KEY_FUNCTION`` option.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.core.cache import BaseCache, caches
from django.core.exceptions import ImproperlyConfigured

from .conf import tenancy_settings
from .context import get_current_schema
from .names import validate_schema_name

if TYPE_CHECKING:
    from .models import TenantBase

__all__ = ["clear_tenant_cache", "make_key", "reverse_key"]

#: Keys removed per UNLINK command.
DELETE_BATCH = 500
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def make_key(key: str, key_prefix: str, version: int | str | None) -> str:
    """``<key_prefix>:<schema>:<version>:<key>``, with the currently active schema.

    Same shape as Django's default key function with the schema after the prefix, so
    every key of one tenant starts with ``<key_prefix>:<schema>:``. Schema names hold
    only ``[a-z0-9_]``, so no tenant's keys can be made to look like another's.
    """
    return f"{key_prefix}:{get_current_schema()}:{version}:{key}"


def reverse_key(key: str) -> str:
    """The key a caller used, from the key :func:`make_key` made (for django-redis'
    ``"REVERSE_KEY_FUNCTION": "tenancy_app.cache.reverse_key"``, which its ``keys()``
    and ``iter_keys()`` use). Like django-redis' own, it assumes a KEY_PREFIX without
    ``:``."""
    return key.split(":", 3)[3]


def clear_tenant_cache(tenant: TenantBase | str, alias: str = "default") -> int:
    """Remove every entry ``tenant`` (an instance or a schema name) has in the Redis cache
    ``alias``, of every version; return how many keys were removed.

    The keys are found with ``SCAN`` (never ``KEYS``, which blocks the server) and
    removed with ``UNLINK`` in batches of :data:`DELETE_BATCH`. Other tenants' entries
    and the public schema's stay. The cache must use :func:`make_key`.
    """
    schema = tenant if isinstance(tenant, str) else tenant.schema_name
    if schema not in (tenancy_settings.PUBLIC_SCHEMA, tenancy_settings.TEMPLATE_SCHEMA):
        validate_schema_name(schema)
    cache = caches[alias]
    if getattr(cache, "key_func", None) is not make_key:
        raise ImproperlyConfigured(
            f"The cache {alias!r} does not use tenancy_app.cache.make_key as its "
            "KEY_FUNCTION, so its keys do not say which tenant they belong to."
        )
    pattern = _GLOB_SPECIAL.sub(r"\\\1", f"{cache.key_prefix}:{schema}:") + "*"
    removed = 0
    for client in _redis_clients(cache, alias):
        batch: list[Any] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= DELETE_BATCH:
                removed += client.unlink(*batch)
                batch.clear()
        if batch:
            removed += client.unlink(*batch)
    return removed


def _redis_clients(cache: BaseCache, alias: str) -> list[Any]:
    """The redis-py clients that hold the cache's keys (the primary of each shard)."""
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        return [cache._cache.get_client(write=True)]
    client = getattr(cache, "client", None)
    if type(cache).__module__.startswith("django_redis") and client is not None:
        shards = getattr(client, "_serverdict", None)  # django-redis' ShardClient
        if shards is not None:
            return list(shards.values())
        return [client.get_client(write=True)]
    raise ImproperlyConfigured(
        f"The cache {alias!r} ({type(cache).__module__}.{type(cache).__qualname__}) is not "
        "a Redis cache: clear_tenant_cache works with Django's RedisCache and django-redis."
    )
