"""Resolvers: each turns a request into the tenant it names.

A resolver returns a :class:`Resolution`, ``None`` when the request says nothing it
understands (the next resolver is asked), or raises :class:`~tenancy_app.exceptions.TenantNotFound`
when the request clearly names a tenant that does not exist.
"""

from __future__ import annotations

from .base import BaseResolver, Resolution
from .domain import DomainResolver
from .header import HeaderResolver
from .subfolder import SubfolderResolver

__all__ = ["BaseResolver", "DomainResolver", "HeaderResolver", "Resolution", "SubfolderResolver"]
