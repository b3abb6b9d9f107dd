"""``rename_tenant``: give a tenant's schema a new name, in the database and the registry."""

from __future__ import annotations

from typing import Any

from django.core.management import CommandError, CommandParser

from ...provisioning import rename_tenant
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
        "Rename a tenant's schema (ALTER SCHEMA ... RENAME TO) and its registry row in one "
        "transaction; its tables and rows move with it. Refuses a name another tenant or "
        "schema has. Asks for confirmation on a terminal; without one, pass --noinput."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser, "Current schema name of the tenant.", metavar="OLD")
        parser.add_argument(
            "--to", dest="new_schema_name", metavar="NEW", required=True, help="New schema name."
        )
        add_noinput_argument(parser, help="Rename without asking for confirmation (for scripts).")
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        check_schema_name(options["schema_name"])
        check_schema_name(options["new_schema_name"])
        if options["schema_name"] == options["new_schema_name"]:
            raise CommandError("--schema and --to are the same name; nothing to do.")

    def handle(self, *args: Any, **options: Any) -> None:
        old: str = options["schema_name"]
        new: str = options["new_schema_name"]
        using: str = options["database"]
        tenant = get_tenant(old, using=using)
        self.confirm_by_typing(
            options,
            action="rename",
            warning=f"This renames the schema of tenant {tenant} to {new!r}. Code or settings "
            "that name the old schema will no longer find it.",
            expected=new,
            label="the new schema name",
        )
        rename_tenant(tenant, new, using=using, on_wait=self.waiting(options))
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(f"Renamed tenant schema {old!r} to {new!r}."))
