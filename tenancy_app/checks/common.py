"""What the checks share: importing dotted paths, and whether the list settings are lists.

Matching INSTALLED_APPS-style entries to apps is the router's (:mod:`tenancy_app.routers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage
from django.utils.module_loading import import_string

from ..conf import tenancy_settings

Messages = list[CheckMessage]
AppConfigs = Sequence[AppConfig] | None

#: Keys of settings.TENANCY whose value must be a list or tuple of strings.
LIST_KEYS = (
    "SHARED_APPS",
    "TENANT_APPS",
    "RESOLVERS",
    "PUBLIC_DOMAINS",
    "EXTRA_SEARCH_PATH",
    "UNMANAGED_SCHEMAS",
)


def load(path: str) -> Any:
    """The object at the dotted ``path``, or ``None`` when it cannot be imported."""
    try:
        return import_string(path)
    except Exception:  # whatever importing raises, the path is not usable
        return None


def is_subclass(obj: Any, base_path: str) -> bool:
    """Whether ``obj`` is a class deriving from the class at ``base_path``."""
    base = load(base_path)
    return isinstance(obj, type) and isinstance(base, type) and issubclass(obj, base)


def names_subclass(entry: Any, base_path: str) -> bool:
    """Whether a dotted path, a class or an instance is ``base_path`` or a subclass of it."""
    obj = load(entry) if isinstance(entry, str) else entry
    return is_subclass(obj if isinstance(obj, type) else type(obj), base_path)


def lists_are_valid() -> bool:
    """Whether every list-valued TENANCY key holds a list or tuple (else tenancy.E004)."""
    return all(isinstance(tenancy_settings.raw(key), list | tuple) for key in LIST_KEYS)
