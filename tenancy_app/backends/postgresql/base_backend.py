"""``TENANCY["BASE_BACKEND"]``: the Django backend the tenancy backend is built over.

By default the tenancy ``DatabaseWrapper`` (:mod:`.base`) derives from Django's own
PostgreSQL backend. A project on another backend derived from that one (PostGIS,
``django.contrib.gis.db.backends.postgis``, first) names it here; when the backend
module loads, :func:`over_base_backend` rebuilds the wrapper with that backend's
``DatabaseWrapper`` after it, so that the search_path handling comes first and the base
backend's operations, features, schema editor and connection set-up (PostGIS registers
its geometry types on each new connection) all stay. The introspection class is combined
the same way: the listing limited to the current schema over the base's (PostGIS's
knows the geometry columns).

Extensions the base backend creates (``CREATE EXTENSION postgis`` in
``prepare_database``) are created in the shared schema, whatever is active: their types
and functions live once there, and every tenant's search_path reaches them.

The setting is read once, when Django loads the backend; system check tenancy.E170
validates it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base as postgresql

from ...conf import tenancy_settings
from ...context import public_context

W = TypeVar("W", bound=type[postgresql.DatabaseWrapper])

#: The default: Django's PostgreSQL backend, which the tenancy backend derives from.
DEFAULT = "django.db.backends.postgresql"


def base_wrapper(path: str) -> type[postgresql.DatabaseWrapper]:
    """The ``DatabaseWrapper`` of the backend at ``path``; ImproperlyConfigured unless it
    derives from Django's PostgreSQL backend."""
    try:
        wrapper = getattr(import_module(f"{path}.base"), "DatabaseWrapper", None)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"TENANCY['BASE_BACKEND'] is {path!r}, which cannot be imported: {exc}"
        ) from exc
    if not (isinstance(wrapper, type) and issubclass(wrapper, postgresql.DatabaseWrapper)):
        raise ImproperlyConfigured(
            f"TENANCY['BASE_BACKEND'] is {path!r}, whose DatabaseWrapper does not derive from "
            "Django's PostgreSQL backend (django.db.backends.postgresql)."
        )
    return wrapper


class SharedExtensions:
    """``prepare_database`` (where a backend creates its extensions) in the shared schema."""

    def prepare_database(self) -> None:
        with public_context():
            super().prepare_database()  # type: ignore[misc]


def over_base_backend(wrapper: W) -> W:
    """``wrapper`` (built over Django's PostgreSQL backend), rebuilt over
    ``TENANCY["BASE_BACKEND"]``; unchanged for the default."""
    path = tenancy_settings.BASE_BACKEND
    if path == DEFAULT:
        return wrapper
    base = base_wrapper(path)
    namespace: dict[str, Any] = {"__module__": wrapper.__module__}
    introspection = type(
        "DatabaseIntrospection", (wrapper.introspection_class, base.introspection_class), namespace
    )
    rebuilt = type(
        "DatabaseWrapper",
        (SharedExtensions, wrapper, base),
        {**namespace, "__qualname__": "DatabaseWrapper", "introspection_class": introspection},
    )
    return rebuilt  # type: ignore[return-value]
