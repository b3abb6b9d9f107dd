"""``suspend_tenant``: stop serving a tenant (its hosts answer 503); its data is kept."""

from __future__ import annotations

from typing import Any

from django.core.management import CommandParser

from ...conf import tenancy_settings
from ...provisioning import suspend_tenant
from ..base import (
    TenancyCommand,
    add_database_argument,
    add_schema_argument,
    check_schema_name,
    get_tenant,
)


class Command(TenancyCommand):
    help = (
        "Suspend a tenant: its hosts answer 503 (TENANCY['UNAVAILABLE_VIEW']) and tasks for it "
        "are refused; its schema and data are kept. Every process stops serving it within "
        "TENANCY['REGISTRY_MAX_AGE'] seconds. Undo with activate_tenant."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser, "Schema name of the tenant to suspend.")
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        check_schema_name(options["schema_name"])

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant(options["schema_name"], using=options["database"])
        changed = suspend_tenant(tenant, using=options["database"])
        if options["verbosity"] >= 1:
            if changed:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Suspended {tenant}; every process stops serving it within "
                        f"{tenancy_settings.REGISTRY_MAX_AGE:g} s."
                    )
                )
            else:
                self.stdout.write(f"{tenant} was already suspended; nothing changed.")
