"""A Site cache per schema, for ``django.contrib.sites`` listed in the tenant apps.

``Site.objects.get_current()`` keeps the sites it read in ``SITE_CACHE``, a dict of the
module ``django.contrib.sites.models``, keyed by ``SITE_ID`` or by host name, for the
life of the process. With the sites app in the tenant apps every schema has its own
``django_site`` table, so one tenant's site (its domain, its name: what e-mails, sitemaps
and feeds print) would be handed to every other tenant with the same ``SITE_ID``, or the
same host under header or subfolder routing. :func:`install` replaces that dict with one
that keys every entry by the active schema too, keeping the most recently used schemas;
``Site.objects.clear_cache()`` empties it in place rather than replacing it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .context import get_current_schema

MAX_ENTRIES = 10_000


class SchemaKeyedSiteCache(OrderedDict[tuple[str, Any], Any]):
    """Stands in for ``SITE_CACHE``: ``cache[key]`` means the active schema's entry."""

    @staticmethod
    def _key(key: Any) -> tuple[str, Any]:
        return (get_current_schema(), key)

    def __getitem__(self, key: Any) -> Any:
        full = self._key(key)
        value = super().__getitem__(full)
        self.move_to_end(full)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(self._key(key), value)
        while len(self) > MAX_ENTRIES:
            self.popitem(last=False)

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(self._key(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._key(key), default)

    def pop(self, key: Any, *default: Any) -> Any:
        return super().pop(self._key(key), *default)


def _clear_cache() -> None:
    """``SiteManager.clear_cache``: empty the cache of every schema, keeping its type."""
    from django.contrib.sites import models

    models.SITE_CACHE.clear()


def install() -> None:
    """Give ``django.contrib.sites`` a per-schema cache (done in ``TenancyConfig.ready``)."""
    from django.contrib.sites import models

    if not isinstance(models.SITE_CACHE, SchemaKeyedSiteCache):
        models.SITE_CACHE = SchemaKeyedSiteCache()
    # On the manager the class declares too: Site.objects is a copy of it, made again
    # whenever the app registry's caches are cleared, and copies keep its attributes.
    managers: tuple[Any, ...] = (*models.Site._meta.local_managers, models.Site.objects)
    for manager in managers:
        manager.clear_cache = _clear_cache
