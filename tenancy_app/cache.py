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
"""

from __future__ import annotations

from .context import get_current_schema

__all__ = ["make_key"]


def make_key(key: str, key_prefix: str, version: int | str | None) -> str:
    """``<key_prefix>:<schema>:<version>:<key>``, with the currently active schema.

    Same shape as Django's default key function with the schema after the prefix, so
    every key of one tenant starts with ``<key_prefix>:<schema>:``. Schema names hold
    only ``[a-z0-9_]``, so no tenant's keys can be made to look like another's.
    """
    return f"{key_prefix}:{get_current_schema()}:{version}:{key}"
