"""Tenant lookups for the resolvers, cached in-process for a bounded time.

The cache is a bounded LRU keyed by what the resolver saw (host name or schema name),
including misses, so a flood of unknown hosts costs one query per host, not per request.
An entry is kept at most ``TENANCY["REGISTRY_MAX_AGE"]`` seconds, so a change made by
another process (a tenant deleted, renamed or suspended, a domain moved) is seen within
that bound. The query that loads a tenant also grants its lease
(:mod:`tenancy_app.leases`), so serving it needs no verification of its own; an entry
whose lease was revoked, or ran out, is loaded again (one whose lease was just refused is
kept while the refusal is remembered, so that the refusal is answered without a query).

An entry holds what serving its tenant needs, computed once when it is loaded: the
tenant's activation (:func:`tenancy_app.context.active_schema_of`: the schema name
validated, the search_path, the lease) and its routing (:func:`routing_of`: whether it
may be served, with which URLconf). Serving it again is then a dictionary lookup, a
clock check of the lease, and a copy of the tenant for the request
(:func:`served_for_domain`, :func:`served_for_schema`).

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
from collections import OrderedDict
from collections.abc import Callable
from time import monotonic
from typing import Any, NamedTuple

from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_delete, post_save

from .conf import tenancy_settings
from .context import ActiveSchema, active_schema_of, public_context
from .leases import lookup_annotations, settle_lookup
from .models import TenantBase, get_domain_model, get_tenant_model
from .tenant_types import is_configured, tenant_urlconf

GENERATION_KEY = "tenancy_app:lookup-generation"

Key = tuple[str, str]


class Routing(NamedTuple):
    """How the middleware serves a request for a tenant (see :func:`routing_of`)."""

    #: the tenant is active and of a type the project configures; else it answers 503
    available: bool
    #: the tenant type's URLconf, else ``TENANCY["TENANT_URLCONF"]``
    urlconf: str | None


def routing_of(tenant: TenantBase) -> Routing:
    """How requests for ``tenant`` are served: computed once per cached tenant."""
    # (A tenant whose type is not configured has no apps to be served with.)
    return Routing(tenant.is_active and is_configured(tenant), tenant_urlconf(tenant))


class _Entry(NamedTuple):
    #: the tenant's activation, prepared once (``None``: no such tenant, a cached miss);
    #: shared by every request, so never handed out as is (its tenant is the cached one)
    active: ActiveSchema | None
    routing: Routing | None
    expires: float
    #: the database alias the tenant was read from (its lease is per alias)
    using: str
    #: the lease's ``expires`` itself (a lease changes it in place, never replaces it), read
    #: on every hit; empty without a lease
    valid_until: dict[str, float]

    def is_fresh(self, now: float) -> bool:
        """Not expired, and the lease (if any) still valid or just refused (the refusal is
        then answered from here, without a query)."""
        if self.expires <= now:
            return False
        active = self.active
        if active is None or active.lease is None:
            return True
        lease, using = active.lease, self.using
        return lease.expires.get(using, 0.0) > now or lease.recent_refusal(using, now) is not None


#: What the lookup serves a request: the tenant's activation (with a copy of the tenant
#: of the request's own) and its routing.
Served = tuple[ActiveSchema, Routing]

_new_tuple = tuple.__new__  # ActiveSchema(...) without the Python call of its __new__


def _shared_cache() -> BaseCache | None:
    alias = tenancy_settings.LOOKUP_CACHE_ALIAS
    return caches[alias] if alias else None


class TenantLookupCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._clears = 0  # local generation: a load that spans a clear is not stored
        self._shared_generation: object = None

    def serve(self, key: Key, load: Callable[[Key], TenantBase | None]) -> Served | None:
        """The activation and routing of ``key``'s tenant for one request, or ``None`` when
        there is no such tenant; loaded with ``load(key)`` when it is not cached or no
        longer fresh.

        The activation served has a copy of the cached tenant of its own, so that a view
        changing ``request.tenant`` (or a ``ModelForm`` of it that fails validation) never
        changes what other requests get. A hit costs a dictionary lookup, a clock check of
        the lease and that copy: this runs on every request.
        """
        if tenancy_settings.LOOKUP_CACHE_ALIAS:
            self._follow_shared_generation()
        now = monotonic()
        # A hit takes no lock: the get and the move are each atomic, and an entry evicted
        # in between is still served this once.
        entry = self._entries.get(key)
        if entry is not None and (
            (entry.expires > now and entry.valid_until.get(entry.using, 0.0) > now)
            or entry.is_fresh(now)
        ):
            try:  # noqa: SIM105 (contextlib.suppress would cost a call on every request)
                self._entries.move_to_end(key)
            except KeyError:
                pass
        else:
            entry = self._load(key, load, now)
        active, routing = entry.active, entry.routing
        if active is None or routing is None:
            return None
        # The copy: copy.copy() of a model instance goes through pickling; this is the
        # same shallow copy without it.
        tenant = active.tenant
        assert tenant is not None
        clone = tenant.__class__.__new__(tenant.__class__)
        clone.__dict__ = tenant.__dict__.copy()
        state = clone._state = ModelState()
        state.db, state.adding = tenant._state.db, tenant._state.adding
        mine = (active.schema_name, clone, active.search_path, active.lease)
        return _new_tuple(ActiveSchema, mine), routing

    def _load(self, key: Key, load: Callable[[Key], TenantBase | None], now: float) -> _Entry:
        """Load ``key`` and keep it, unless the cache is cleared while it loads."""
        clears = self._clears
        tenant = load(key)
        max_age = tenancy_settings.REGISTRY_MAX_AGE
        if tenant is None:
            entry = _Entry(None, None, now + max_age, "", {})
        else:
            active = active_schema_of(tenant)
            valid_until = active.lease.expires if active.lease is not None else {}
            using = tenant._state.db or "default"
            entry = _Entry(active, routing_of(tenant), now + max_age, using, valid_until)
        with self._lock:
            if clears == self._clears:
                self._entries[key] = entry
                self._entries.move_to_end(key)
                while len(self._entries) > max(tenancy_settings.LOOKUP_CACHE_SIZE, 0):
                    self._entries.popitem(last=False)
        return entry

    def get_or_load(self, key: Key, load: Callable[[], TenantBase | None]) -> TenantBase | None:
        """The tenant of ``key`` (a copy of its own), loaded with ``load()`` if not cached."""
        served = self.serve(key, lambda _key: load())
        return served[0].tenant if served is not None else None

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


def _load_domain(key: Key) -> TenantBase | None:
    host = key[1]
    sent_at = monotonic()
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


def _load_schema(key: Key) -> TenantBase | None:
    schema_name = key[1]
    sent_at = monotonic()
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


def served_for_domain(host: str) -> Served | None:
    """The activation (with a copy of the tenant of its own) and routing of the tenant whose
    Domain row is ``host`` (lower-case, no port), or ``None``."""
    return lookup_cache.serve(("domain", host), _load_domain)


def served_for_schema(schema_name: str) -> Served | None:
    """The activation (with a copy of the tenant of its own) and routing of the tenant whose
    schema is ``schema_name`` (already validated), or ``None``."""
    return lookup_cache.serve(("schema", schema_name), _load_schema)


def tenant_for_domain(host: str) -> TenantBase | None:
    """The tenant whose Domain row is ``host`` (lower-case, no port), or ``None``."""
    served = served_for_domain(host)
    return served[0].tenant if served is not None else None


def tenant_for_schema(schema_name: str) -> TenantBase | None:
    """The tenant whose schema is ``schema_name`` (already validated), or ``None``."""
    served = served_for_schema(schema_name)
    return served[0].tenant if served is not None else None


def _invalidate(sender: Any, **kwargs: Any) -> None:
    lookup_cache.clear()
    transaction.on_commit(lookup_cache.clear, using=kwargs.get("using"))


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "TENANCY":  # the prepared search_paths follow the settings
        lookup_cache.clear_local()


def connect_invalidation() -> None:
    setting_changed.connect(_settings_changed, dispatch_uid="tenancy_lookup_settings")
    for model in {get_tenant_model(), get_domain_model()}:
        for signal in (post_save, post_delete):
            signal.connect(_invalidate, sender=model, dispatch_uid=f"tenancy_lookup_{model}")
