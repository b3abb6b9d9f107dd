"""Tasks of the test project: each says where it ran and writes a row there.

They write auth groups: ``auth`` is both a shared and a tenant app, so a ``Group`` table
exists in public and in every tenant, and a task that ran in the wrong schema would
succeed there quietly instead of failing.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.contrib.auth.models import Group

from tenancy_app import get_current_schema, get_current_tenant


def where() -> dict[str, Any]:
    tenant = get_current_tenant()
    return {"schema": get_current_schema(), "tenant": tenant.pk if tenant else None}


@shared_task
def record(name: str) -> dict[str, Any]:
    Group.objects.create(name=name)
    return where()


@shared_task(bind=True, max_retries=3)
def record_after_a_retry(self: Any, name: str) -> dict[str, Any]:
    if self.request.retries == 0:
        raise self.retry(countdown=0.5)
    return {**record(name), "retries": self.request.retries}


@shared_task
def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {**where(), "parts": results, "groups": Group.objects.count()}


@shared_task
def report() -> dict[str, Any]:
    return where()


@shared_task(bind=True)
def tick(self: Any, name: str) -> dict[str, Any]:
    """A scheduled task that may run many times: one row per run, named by the task id."""
    Group.objects.create(name=f"{name} {self.request.id}")
    return where()
