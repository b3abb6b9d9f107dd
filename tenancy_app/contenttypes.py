"""A content type cache per schema.

``ContentType.objects`` caches content types per database alias, for the life of the
process. With ``django.contrib.contenttypes`` in the tenant apps every schema has its own
``django_content_type`` table, and the same model can have a different id in each, so a
cache keyed by alias alone hands one schema's ids to another (a permission check or an
admin log entry in tenant B using tenant A's content type id). :func:`install` replaces
that cache with one keyed by (alias, schema), keeping the most recently used schemas.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .context import get_current_schema

MAX_SCHEMAS = 1_000


class SchemaKeyedCache(OrderedDict[tuple[str, str], dict[Any, Any]]):
    """Stands in for ``ContentTypeManager._cache``: ``cache[alias]`` means this schema's."""

    def __getitem__(self, alias: Any) -> dict[Any, Any]:
        key = (alias, get_current_schema())
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __contains__(self, alias: object) -> bool:
        return super().__contains__((alias, get_current_schema()))

    def get(self, alias: Any, default: Any = None) -> Any:
        return super().get((alias, get_current_schema()), default)

    def setdefault(self, alias: Any, default: Any = None) -> Any:
        key = (alias, get_current_schema())
        if not super().__contains__(key):
            super().__setitem__(key, default if default is not None else {})
            while len(self) > MAX_SCHEMAS:
                self.popitem(last=False)
        return super().__getitem__(key)


def install() -> None:
    """Give ``ContentType.objects`` a per-schema cache (done in ``TenancyConfig.ready``)."""
    from django.contrib.contenttypes.models import ContentType

    manager: Any = ContentType.objects
    if isinstance(manager._cache, SchemaKeyedCache):
        return
    cache = SchemaKeyedCache()
    # ContentType.objects is a copy of the model's own manager, made again whenever the
    # app registry's caches are cleared (a model registered late, e.g. by importing the
    # models of an app that is not installed): the copies share the source's cache.
    for source in (*ContentType._meta.local_managers, manager):
        source._cache = cache
