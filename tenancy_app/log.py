"""A logging filter that tags every record with the tenant it was logged in.

.. code-block:: python

    LOGGING = {
        "version": 1,
        "filters": {"tenant": {"()": "tenancy_app.log.TenantContextFilter"}},
        "formatters": {
            "tenant": {"format": "%(levelname)s [%(schema_name)s] %(name)s: %(message)s"}
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["tenant"],
                "formatter": "tenant",
            }
        },
        "root": {"handlers": ["console"], "level": "INFO"},
    }

Put the filter on the handler (or on a logger) of the process and thread that logs:
a filter that runs later in another thread, e.g. behind a ``QueueHandler``, would see
that thread's context instead. A record that already has the attributes (set with
``extra=`` or by an earlier pass through the filter) keeps them.
"""

from __future__ import annotations

import logging

from .context import get_current_schema, get_current_tenant

__all__ = ["TenantContextFilter"]


class TenantContextFilter(logging.Filter):
    """Adds ``schema_name`` (the active schema, ``public`` outside tenants) and ``tenant``
    (``str()`` of the active tenant, ``""`` when there is none) to each record. Never
    drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "schema_name"):
            record.schema_name = get_current_schema()
        if not hasattr(record, "tenant"):
            tenant = get_current_tenant()
            record.tenant = str(tenant) if tenant is not None else ""
        return True
