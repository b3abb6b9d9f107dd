"""Celery tasks that follow the tenant (``pip install tenancy-app[celery]``).

Add ``"tenancy_app.contrib.celery"`` to ``INSTALLED_APPS``; nothing else. A task
published inside a tenant's context (a request, a ``tenant_context`` block, another
task) carries the schema in its message headers and runs on the worker inside that
tenant's context; published in public, it runs in public. See docs/celery.rst.

This module imports neither Django's models nor Celery's app at import time, so
settings can use :func:`tenant_headers` in ``CELERY_BEAT_SCHEDULE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Task
    from celery.result import AsyncResult

    from ...models import TenantBase

__all__ = ["FAN_OUT_TASK", "HEADER_SCHEMA", "HEADER_TENANT", "for_each_tenant", "tenant_headers"]

#: The message header with the schema the task was published in.
HEADER_SCHEMA = "tenancy_schema"
#: The message header with the primary key of the tenant it was published for (absent
#: in public and in a plain ``schema_context``).
HEADER_TENANT = "tenancy_tenant"
#: The name of the registered task that runs :func:`for_each_tenant` (for beat).
FAN_OUT_TASK = "tenancy_app.contrib.celery.tasks.fan_out"
#: Tenants read from the registry per query while fanning out.
FAN_OUT_BATCH = 1000


def tenant_headers(schema_name: str) -> dict[str, str]:
    """Headers that send a task to one tenant whatever the publisher's context, e.g. in
    a beat entry's ``"options": {"headers": tenant_headers("acme")}``."""
    return {HEADER_SCHEMA: schema_name}


def active_tenants(batch: int = FAN_OUT_BATCH) -> Iterator[TenantBase]:
    """Every active tenant, in primary-key order, read ``batch`` rows per query."""
    from ...context import public_context
    from ...models import TenantStatus, get_tenant_model

    manager = get_tenant_model()._default_manager
    last: Any = None
    while True:
        with public_context():
            rows = manager.filter(status=TenantStatus.ACTIVE).order_by("pk")
            if last is not None:
                rows = rows.filter(pk__gt=last)
            chunk = list(rows[:batch])
        yield from chunk
        if len(chunk) < batch:
            return
        last = chunk[-1].pk


def for_each_tenant(task: Task | str, *args: Any, **kwargs: Any) -> list[AsyncResult]:
    """Publish ``task`` (a task or a task name) once per active tenant, each message in
    its tenant's context, with the same ``args`` and ``kwargs``; return the results.

    The registry is read in batches of :data:`FAN_OUT_BATCH`; each tenant costs one
    message to the broker (see docs/celery.rst for 10,000 tenants).
    """
    from celery import current_app

    from ...context import tenant_context

    results = []
    for tenant in active_tenants():
        with tenant_context(tenant):
            if isinstance(task, str):
                results.append(current_app.send_task(task, args=args, kwargs=kwargs))
            else:
                results.append(task.apply_async(args=args, kwargs=kwargs))
    return results
