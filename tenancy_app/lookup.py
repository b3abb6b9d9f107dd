"""Tenant lookups for the resolvers, cached in-process.

The cache is a bounded LRU keyed by what the resolver saw (host name or schema name),
including misses, so a flood of unknown hosts costs one query per host, not per request.
It is cleared whenever a Tenant or Domain row is saved or deleted (and again when that
transaction commits). ``QuerySet.update()`` sends no signals: call
:func:`clear_tenant_cache` after bulk changes.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .conf import tenancy_settings
from .context import public_context
from .models import TenantBase, get_domain_model, get_tenant_model

_MISS = object()


class TenantLookupCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], TenantBase | None] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_load(
        self, key: tuple[str, str], load: Callable[[], TenantBase | None]
    ) -> TenantBase | None:
        with self._lock:
            found = self._entries.get(key, _MISS)
            if found is not _MISS:
                self._entries.move_to_end(key)
                return copy.copy(cast("TenantBase | None", found))
        tenant = load()
        with self._lock:
            self._entries[key] = tenant
            while len(self._entries) > max(tenancy_settings.LOOKUP_CACHE_SIZE, 0):
                self._entries.popitem(last=False)
        return copy.copy(tenant)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


lookup_cache = TenantLookupCache()


def clear_tenant_cache() -> None:
    """Forget every cached tenant lookup of this process."""
    lookup_cache.clear()


def tenant_for_domain(host: str) -> TenantBase | None:
    """The tenant whose Domain row is ``host`` (lower-case, no port), or ``None``."""

    def load() -> TenantBase | None:
        with public_context():
            domain = (
                get_domain_model()
                ._default_manager.select_related("tenant")
                .filter(domain=host)
                .first()
            )
        return domain.tenant if domain is not None else None

    return lookup_cache.get_or_load(("domain", host), load)


def tenant_for_schema(schema_name: str) -> TenantBase | None:
    """The tenant whose schema is ``schema_name`` (already validated), or ``None``."""

    def load() -> TenantBase | None:
        with public_context():
            return get_tenant_model()._default_manager.filter(schema_name=schema_name).first()

    return lookup_cache.get_or_load(("schema", schema_name), load)


def _invalidate(sender: Any, **kwargs: Any) -> None:
    lookup_cache.clear()
    transaction.on_commit(lookup_cache.clear, using=kwargs.get("using"))


def connect_invalidation() -> None:
    for model in {get_tenant_model(), get_domain_model()}:
        for signal in (post_save, post_delete):
            signal.connect(_invalidate, sender=model, dispatch_uid=f"tenancy_lookup_{model}")
