"""Tenant lookups for the resolvers, cached in-process for a bounded time.

The cache is a bounded LRU keyed by what the resolver saw (host name or schema name),
including misses, so a flood of unknown hosts costs one query per host, not per request.
An entry is kept at most ``TENANCY["REGISTRY_MAX_AGE"]`` seconds, so a change made by
another process (a tenant deleted, renamed or suspended, a domain moved) is seen within
that bound. The query that loads a tenant also grants its lease
(:mod:`tenancy_app.leases`), so serving it needs no verification of its own; an entry
whose lease was revoked or refused is loaded again.

The cache is cleared whenever a Tenant or Domain row is saved or deleted in this process
(and again when that transaction commits). ``QuerySet.update()`` sends no signals: call
:func:`clear_lookup_cache` after bulk changes.

With ``TENANCY["LOOKUP_CACHE_ALIAS"]`` naming a cache of ``CACHES`` that all processes
share (Redis, Memcached, a database cache), a clear in one process clears every
process's cache: clearing bumps a generation number stored there, and each lookup reads
it (one cache get per request) and drops the local entries when it has moved.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

from django.core.cache import BaseCache, caches
from django.db import transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_delete, post_save

from .conf import tenancy_settings
from .context import public_context
from .leases import Lease, lease_for, lookup_annotations, settle_lookup
from .models import TenantBase, get_domain_model, get_tenant_model

GENERATION_KEY = "tenancy_app:lookup-generation"


class _Entry(NamedTuple):
    tenant: TenantBase | None
    expires: float
    lease: Lease | None

    def is_fresh(self, now: float) -> bool:
        if self.expires <= now:
            return False
        lease, tenant = self.lease, self.tenant
        if lease is None or tenant is None:
            return True
        using = tenant._state.db or "default"
        return lease.is_valid(using, now) or lease.recent_refusal(using, now) is not None


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
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._clears = 0  # local generation: a load that spans a clear is not stored
        self._shared_generation: object = None

    def get_or_load(
        self, key: tuple[str, str], load: Callable[[], TenantBase | None]
    ) -> TenantBase | None:
        self._follow_shared_generation()
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found.is_fresh(now):
                self._entries.move_to_end(key)
                return _detached(found.tenant)
            clears = self._clears
        tenant = load()
        lease = lease_for(tenant.schema_name, tenant) if tenant is not None else None
        entry = _Entry(tenant, now + tenancy_settings.REGISTRY_MAX_AGE, lease)
        with self._lock:
            if clears == self._clears:
                self._entries[key] = entry
                self._entries.move_to_end(key)
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
        sent_at = time.monotonic()
        with public_context():
            domain = (
                get_domain_model()
                ._default_manager.select_related("tenant")
                .annotate(**lookup_annotations("tenant__schema_name"))
                .filter(domain=host)
                .first()
            )
        if domain is None:
            return None
        settle_lookup(domain.tenant, domain, sent_at)
        return domain.tenant

    return lookup_cache.get_or_load(("domain", host), load)


def tenant_for_schema(schema_name: str) -> TenantBase | None:
    """The tenant whose schema is ``schema_name`` (already validated), or ``None``."""

    def load() -> TenantBase | None:
        sent_at = time.monotonic()
        with public_context():
            tenant = (
                get_tenant_model()
                ._default_manager.annotate(**lookup_annotations("schema_name"))
                .filter(schema_name=schema_name)
                .first()
            )
        if tenant is not None:
            settle_lookup(tenant, tenant, sent_at)
        return tenant

    return lookup_cache.get_or_load(("schema", schema_name), load)


def _invalidate(sender: Any, **kwargs: Any) -> None:
    lookup_cache.clear()
    transaction.on_commit(lookup_cache.clear, using=kwargs.get("using"))


def connect_invalidation() -> None:
    for model in {get_tenant_model(), get_domain_model()}:
        for signal in (post_save, post_delete):
            signal.connect(_invalidate, sender=model, dispatch_uid=f"tenancy_lookup_{model}")
