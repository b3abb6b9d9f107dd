"""Signals of a tenant's life, of migrate_schemas, and of a request's tenant.

Lifecycle signals are sent once the change is committed (``transaction.on_commit``):
a rolled-back provisioning, rename or deletion sends nothing. Their ``sender`` is the
tenant model, so ``receiver(tenant_provisioned, sender=Tenant)`` works. A receiver that
raises is logged (logger ``tenancy_app.signals``) and neither undoes the change nor
keeps the other receivers from running.

=======================  ===============================================================
signal                   keyword arguments (besides ``sender``)
=======================  ===============================================================
tenant_provisioned       ``tenant``, ``using``, ``method`` (``"template"``,
                         ``"migrate"`` or ``"clone"``)
tenant_status_changed    ``tenant``, ``old_status``, ``new_status``, ``using``
tenant_renamed           ``tenant``, ``old_schema_name``, ``new_schema_name``, ``using``
tenant_deleted           ``tenant`` (its ``pk`` is ``None`` now), ``schema_name``,
                         ``dropped`` (the schema was dropped), ``using``
schema_migrated          ``schema_name``, ``result`` (a ``SchemaResult``), ``using``;
                         sender ``MigrationRun``; one per schema of a run, sent on the
                         thread that runs ``migrate_schemas`` as each schema ends
tenant_activated         ``request``, ``tenant``; sender the middleware class; sent
                         inside the tenant's context before the view runs
=======================  ===============================================================
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal

if TYPE_CHECKING:
    from .models import TenantBase

__all__ = [
    "schema_migrated",
    "tenant_activated",
    "tenant_deleted",
    "tenant_provisioned",
    "tenant_renamed",
    "tenant_status_changed",
]

logger = logging.getLogger(__name__)

tenant_provisioned = Signal()
tenant_status_changed = Signal()
tenant_renamed = Signal()
tenant_deleted = Signal()
schema_migrated = Signal()
#: The request hook: the middleware sends it only when a receiver is connected, so
#: it costs one attribute test per request otherwise (bench/request_hook.py).
tenant_activated = Signal()


def send_robust(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal``; log (do not raise) what a receiver raises."""
    for receiver, response in signal.send_robust(sender, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "A receiver of a tenancy_app signal failed: %r raised %r",
                receiver,
                response,
                exc_info=response,
            )


def send_on_commit(signal: Signal, sender: Any, *, using: str, **kwargs: Any) -> None:
    """Send ``signal`` when the current transaction of ``using`` commits (now if none)."""
    if not signal.receivers:
        return
    transaction.on_commit(lambda: send_robust(signal, sender, using=using, **kwargs), using=using)


# tenant_status_changed from Model.save() ------------------------------------------------

_STORED = "_tenancy_stored_status"
_CREATED = "_tenancy_created_uncommitted"


def _remember_status(sender: Any, instance: TenantBase, **kwargs: Any) -> None:
    """Before a tenant is saved, read its status as stored (only when someone listens)."""
    if not tenant_status_changed.has_listeners(sender):
        return
    update_fields = kwargs.get("update_fields")
    if instance._state.adding or instance.pk is None or instance.__dict__.get(_CREATED):
        return
    if update_fields is not None and "status" not in update_fields:
        return
    using = kwargs.get("using") or instance._state.db
    instance.__dict__[_STORED] = (
        sender._default_manager.using(using)
        .filter(pk=instance.pk)
        .values_list("status", flat=True)
        .first()
    )


def _announce_status(sender: Any, instance: TenantBase, created: bool, **kwargs: Any) -> None:
    old = instance.__dict__.pop(_STORED, None)
    if not tenant_status_changed.has_listeners(sender):
        return
    using = kwargs.get("using") or instance._state.db or "default"
    if created:
        # A tenant made in this transaction has no status to change from until it is
        # committed: provisioning reports it as tenant_provisioned.
        instance.__dict__[_CREATED] = True
        transaction.on_commit(lambda: instance.__dict__.pop(_CREATED, None), using=using)
        return
    if old is not None and old != instance.status:
        announce_status_change(instance, old, using=using)


def announce_status_change(tenant: TenantBase, old_status: str, *, using: str) -> None:
    """Send tenant_status_changed for ``tenant`` (now ``tenant.status``) on commit.

    Model.save() sends it by itself; code that changes statuses with
    ``QuerySet.update()`` (as the admin's actions do) calls this for each tenant.
    """
    send_on_commit(
        tenant_status_changed,
        type(tenant),
        using=using,
        tenant=tenant,
        old_status=old_status,
        new_status=tenant.status,
    )


def connect_status_tracking(model: type[TenantBase]) -> None:
    pre_save.connect(_remember_status, sender=model, dispatch_uid="tenancy_status_before")
    post_save.connect(_announce_status, sender=model, dispatch_uid="tenancy_status_after")
