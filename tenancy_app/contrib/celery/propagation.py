"""How the tenant travels with a task, and how the worker takes it up again.

Publishing (any process): ``before_task_publish`` writes the active schema (and the
tenant's primary key) into the message headers, unless the caller set them.

Running (the worker, any pool): ``task_prerun`` resolves the schema through the same
cached lookup as the middleware (:func:`tenancy_app.lookup.tenant_for_schema`) and
enters the tenant's context; ``task_postrun`` leaves it. The context so spans the task
body and what Celery publishes for it afterwards (retries, the next step of a chain,
link callbacks, a chord's callback), so those carry the tenant too.

Refusing: ``task_prerun`` cannot fail a task (Celery logs what its receivers raise), so
the refusal is raised from ``Task.before_start``, which Celery calls inside the task's
error handling just before the body. The base class's ``before_start`` is a no-op hook
(Celery 5.2+), and Celery's tracer is written to notice such a patched base method; a
task class that overrides ``before_start`` must call ``super().before_start(...)``.
Until then the refused task's context is its own schema without the shared one on
the search_path, never public.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import Ignore
from celery.signals import before_task_publish, task_postrun, task_prerun

from ...conf import tenancy_settings
from ...context import (
    Activation,
    get_current_schema,
    get_current_tenant,
    public_context,
    schema_context,
    tenant_context,
)
from ...exceptions import TaskRefused
from ...lookup import clear_lookup_cache, tenant_for_schema
from ...models import TenantBase, get_tenant_model
from ...names import is_valid_schema_name
from ...tenant_types import is_configured
from . import HEADER_SCHEMA, HEADER_TENANT

logger = logging.getLogger(__name__)

_ACTIVATION = "_tenancy_activation"
_REFUSAL = "_tenancy_refusal"


def stamp_headers(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """``before_task_publish``: the publisher's schema and tenant into the headers."""
    if headers is None or HEADER_SCHEMA in headers:
        return  # set by the caller (e.g. tenant_headers()) or already there
    headers[HEADER_SCHEMA] = get_current_schema()
    tenant = get_current_tenant()
    if tenant is not None:
        headers[HEADER_TENANT] = str(tenant.pk)


def activation_for(schema_name: str, tenant_id: str | None) -> Activation:
    """The context a task published in ``schema_name`` runs in, or :class:`TaskRefused`.

    The cached lookup answers first. When its answer refuses the task, the registry is
    asked once more directly, so that a stale entry (a tenant re-created or re-activated
    since this process cached it) neither refuses a task wrongly nor lingers.
    """
    if schema_name == tenancy_settings.PUBLIC_SCHEMA:
        return public_context()
    if not is_valid_schema_name(schema_name):
        raise TaskRefused(schema_name, "it is not a valid schema name", gone=True)
    try:
        tenant = tenant_for_schema(schema_name)
        if _problem(tenant, tenant_id) is not None:
            with public_context():
                tenant = get_tenant_model()._default_manager.filter(schema_name=schema_name).first()
            if _problem(tenant, tenant_id) is None:
                clear_lookup_cache()  # the cached entry was stale
    except Exception as exc:  # the registry could not be asked: refuse, never guess
        raise TaskRefused(schema_name, f"its tenant could not be looked up ({exc})") from exc
    problem = _problem(tenant, tenant_id)
    if problem is not None:
        raise TaskRefused(schema_name, *problem)
    assert tenant is not None
    return tenant_context(tenant)


def _problem(tenant: TenantBase | None, tenant_id: str | None) -> tuple[str, bool] | None:
    """Why a task published for ``tenant_id`` may not run in ``tenant`` (and whether the
    tenant is gone), or None."""
    if tenant is None:
        return "no tenant has this schema (deleted or renamed since the task was sent)", True
    if tenant_id is not None and str(tenant.pk) != tenant_id:
        return "it belongs to another tenant than the one the task was sent for", True
    if not tenant.is_active:
        return f"the tenant is {tenant.status}, not active", False
    if not is_configured(tenant):
        return f"the tenant's type {tenant.type!r} is not configured (TENANT_TYPES)", False
    return None


def enter(task: Task | None = None, **kwargs: Any) -> None:
    """``task_prerun``: enter the context named by the task's headers."""
    if task is None:
        return
    request = task.request
    # A message's headers are attributes of the request; apply(headers=...) nests them.
    headers = getattr(request, "headers", None) or {}
    schema_name = getattr(request, HEADER_SCHEMA, None) or headers.get(HEADER_SCHEMA)
    if schema_name is None:
        return  # not published through tenancy (e.g. apply()): the caller's context stays
    tenant_id = getattr(request, HEADER_TENANT, None) or headers.get(HEADER_TENANT)
    try:
        activation = activation_for(str(schema_name), None if tenant_id is None else str(tenant_id))
    except TaskRefused as exc:
        setattr(request, _REFUSAL, exc)
        if not is_valid_schema_name(schema_name):
            return
        activation = schema_context(str(schema_name), include_public=False)
    activation.__enter__()
    setattr(request, _ACTIVATION, activation)


def leave(task: Task | None = None, **kwargs: Any) -> None:
    """``task_postrun``: leave the context ``enter`` entered."""
    if task is None:
        return
    activation = getattr(task.request, _ACTIVATION, None)
    if activation is not None:
        delattr(task.request, _ACTIVATION)
        activation.__exit__(None, None, None)


_base_before_start = Task.before_start


def before_start(self: Task, task_id: str, args: Any, kwargs: Any) -> Any:
    """Refuse a task whose tenant ``enter`` could not activate; else Celery's own hook."""
    refusal = getattr(self.request, _REFUSAL, None)
    if refusal is not None:
        if tenancy_settings.TASK_UNAVAILABLE_TENANT == "skip":
            logger.warning("Task %s[%s] skipped: %s", self.name, task_id, refusal)
            raise Ignore(str(refusal))
        raise refusal
    return _base_before_start(self, task_id, args, kwargs)


def install() -> None:
    """Connect the signals and the refusal hook (idempotent)."""
    before_task_publish.connect(stamp_headers, weak=False, dispatch_uid="tenancy_stamp")
    task_prerun.connect(enter, weak=False, dispatch_uid="tenancy_enter")
    task_postrun.connect(leave, weak=False, dispatch_uid="tenancy_leave")
    Task.before_start = before_start
