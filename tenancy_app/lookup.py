"""Tenant lookups for the resolvers, cached in-process.

The cache is a bounded LRU keyed by what the resolver saw (host name or schema name),
including misses, so a flood of unknown hosts costs one query per host, not per request.
It is cleared whenever a Tenant or Domain row is saved or deleted (and again when that
transaction commits). ``QuerySet.update()`` sends no signals: call
:func:`clear_lookup_cache` after bulk changes.

With ``TENANCY["LOOKUP_CACHE_ALIAS"]`` naming a cache of ``CACHES`` that all processes
share (Redis, Memcached, a database cache), a clear in one process clears every
process's cache: clearing bumps a generation number stored there, and each lookup reads
it (one cache get per request) and drops the local entries when it has moved.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from django.core.cache import BaseCache, caches
from django.db import transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_delete, post_save

from .conf import tenancy_settings
from .context import public_context
from .models import TenantBase, get_domain_model, get_tenant_model

_MISS = object()
GENERATION_KEY = "tenancy_app:lookup-generation"


def _detached(tenant: TenantBase | None) -> TenantBase | None:
    """A copy of the cached instance for one request, so a view changing ``request.tenant``
    never changes what other requests get. (``copy.copy`` of a model instance goes
    through pickling; this is the same shallow copy without it.)"""
    if tenant is None:
        return None
    clone = tenant.__class__.__new__(tenant.__class__)
    clone.__dict__.update(tenant.__dict__)
    clone._state = ModelState()
    clone._state.db = tenant._state.db
    clone._state.adding = tenant._state.adding
    return clone


def _shared_cache() -> BaseCache | None:
    alias = tenancy_settings.LOOKUP_CACHE_ALIAS
    return caches[alias] if alias else None


class TenantLookupCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], TenantBase | None] = OrderedDict()
        self._lock = threading.Lock()
        self._clears = 0  # local generation: a load that spans a clear is not stored
        self._shared_generation: object = None

    def get_or_load(
        self, key: tuple[str, str], load: Callable[[], TenantBase | None]
    ) -> TenantBase | None:
        self._follow_shared_generation()
        with self._lock:
            found = self._entries.get(key, _MISS)
            if found is not _MISS:
                self._entries.move_to_end(key)
                return _detached(cast("TenantBase | None", found))
            clears = self._clears
        tenant = load()
        with self._lock:
            if clears == self._clears:
                self._entries[key] = tenant
                while len(self._entries) > max(tenancy_settings.LOOKUP_CACHE_SIZE, 0):
                    self._entries.popitem(last=False)
        return _detached(tenant)

    def _follow_shared_generation(self) -> None:
        shared = _shared_cache()
        if shared is None:
            return
        with public_context():  # tenant-aware key functions must see one fixed key
            generation = shared.get(GENERATION_KEY)
        if generation != self._shared_generation:
            self.clear_local()
            self._shared_generation = generation

    def clear_local(self) -> None:
        with self._lock:
            self._entries.clear()
            self._clears += 1

    def clear(self) -> None:
        """Forget every entry here and, with a shared cache, in every other process."""
        self.clear_local()
        shared = _shared_cache()
        if shared is not None:
            with public_context():
                try:
                    shared.incr(GENERATION_KEY)
                except ValueError:  # not there yet (or evicted)
                    shared.set(GENERATION_KEY, 1, timeout=None)

    def __len__(self) -> int:
        return len(self._entries)


lookup_cache = TenantLookupCache()


def clear_lookup_cache() -> None:
    """Forget every cached tenant lookup (of every process, with LOOKUP_CACHE_ALIAS)."""
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
