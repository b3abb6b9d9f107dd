"""``delete_tenant``: remove a tenant from the registry and drop its schema."""

from __future__ import annotations

from typing import Any

from django.core.management import CommandParser

from ...provisioning import delete_tenant
from ..base import (
    TenancyCommand,
    add_database_argument,
    add_noinput_argument,
    add_schema_argument,
    check_schema_name,
    get_tenant,
)


class Command(TenancyCommand):
    help = (
        "Delete a tenant: its registry rows (tenant and domains) and, unless --keep-schema, "
        "its schema with every table and row in it (DROP SCHEMA ... CASCADE). Asks you to "
        "type the schema name to confirm; without a terminal it refuses unless --noinput."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser, "Schema name of the tenant to delete.")
        parser.add_argument(
            "--keep-schema",
            action="store_true",
            help="Delete the registry rows only; keep the schema and its data.",
        )
        add_noinput_argument(parser, help="Delete without asking for confirmation (for scripts).")
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        check_schema_name(options["schema_name"])

    def handle(self, *args: Any, **options: Any) -> None:
        schema_name: str = options["schema_name"]
        keep_schema: bool = options["keep_schema"]
        using: str = options["database"]
        tenant = get_tenant(schema_name, using=using)
        what = "the registry rows of" if keep_schema else "ALL DATA of"
        self.confirm_by_typing(
            options,
            action="delete",
            warning=f"This deletes {what} tenant {tenant}.",
            expected=schema_name,
            label="the schema name",
        )
        delete_tenant(tenant, drop=not keep_schema, using=using, on_wait=self.waiting(options))
        if options["verbosity"] >= 1:
            outcome = "kept its schema" if keep_schema else "dropped its schema"
            self.stdout.write(self.style.SUCCESS(f"Deleted tenant {schema_name!r} and {outcome}."))
