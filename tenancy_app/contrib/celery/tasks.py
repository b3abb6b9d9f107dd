"""The fan-out task, for beat entries that run a task in every tenant."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from . import FAN_OUT_TASK, for_each_tenant


@shared_task(name=FAN_OUT_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def fan_out(task_name: str, *args: Any, **kwargs: Any) -> int:
    """Publish ``task_name`` once per active tenant; return how many were published."""
    return len(for_each_tenant(task_name, *args, **kwargs))
