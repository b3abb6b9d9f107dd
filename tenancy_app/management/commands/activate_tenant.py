"""``activate_tenant``: serve a suspended tenant again."""

from __future__ import annotations

from typing import Any

from django.core.management import CommandParser

from ...conf import tenancy_settings
from ...provisioning import activate_tenant
from ..base import (
    TenancyCommand,
    add_database_argument,
    add_schema_argument,
    check_schema_name,
    get_tenant,
)


class Command(TenancyCommand):
    help = (
        "Activate a suspended tenant: every process serves it again within "
        "TENANCY['REGISTRY_MAX_AGE'] seconds. A tenant that is provisioning or failed is "
        "refused (its schema may be incomplete)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser, "Schema name of the tenant to activate.")
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        check_schema_name(options["schema_name"])

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = get_tenant(options["schema_name"], using=options["database"])
        changed = activate_tenant(tenant, using=options["database"])
        if options["verbosity"] >= 1:
            if changed:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Activated {tenant}; every process serves it within "
                        f"{tenancy_settings.REGISTRY_MAX_AGE:g} s."
                    )
                )
            else:
                self.stdout.write(f"{tenant} was already active; nothing changed.")
