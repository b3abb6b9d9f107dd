from __future__ import annotations

from django.apps import AppConfig


class TenancyCeleryConfig(AppConfig):
    name = "tenancy_app.contrib.celery"
    label = "tenancy_celery"
    verbose_name = "Tenancy for Celery"

    def ready(self) -> None:
        # Connects Celery's signals and registers the fan-out task; runs no SQL.
        from . import propagation, tasks  # noqa: F401

        propagation.install()
