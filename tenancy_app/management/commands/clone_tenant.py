"""``clone_tenant``: a new tenant whose schema is a copy of another tenant's, rows included."""

from __future__ import annotations

from typing import Any

from django.core.management import CommandError, CommandParser

from ...models import normalize_domain
from ...provisioning import clone_tenant
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
        "Create a tenant as a copy of another: its schema gets the source tenant's tables, "
        "indexes, constraints and rows, and sequences that continue where the source's are. "
        "The source's tables are locked against writes while they are copied. The copy has "
        "the source's tenant type. Either all of that happens or nothing is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="source",
            metavar="NAME",
            required=True,
            help="Schema name of the tenant to copy.",
        )
        add_schema_argument(parser, "Schema name of the new tenant.")
        parser.add_argument(
            "--name", help="Display name of the new tenant (default: the source's name + ' copy')."
        )
        parser.add_argument("--domain", help="Primary host name of the new tenant (default: none).")
        add_noinput_argument(parser, help="Accepted for scripts; this command never prompts.")
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        check_schema_name(options["source"])
        check_schema_name(options["schema_name"])
        if options["source"] == options["schema_name"]:
            raise CommandError("--from and --schema must name different schemas.")
        if options["domain"] is not None:
            options["domain"] = normalize_domain(options["domain"])
        if options["name"] is not None and not options["name"].strip():
            raise CommandError("--name must not be empty.")

    def handle(self, *args: Any, **options: Any) -> None:
        using: str = options["database"]
        source = get_tenant(options["source"], using=using)
        name = options["name"] or f"{source.name} copy"
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Copying tenant {source.schema_name!r} to {options['schema_name']!r} ..."
            )
        tenant = clone_tenant(
            source,
            schema_name=options["schema_name"],
            name=name,
            domain=options["domain"],
            using=using,
        )
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created tenant {tenant.name!r}: schema {tenant.schema_name}, copied from "
                    f"{source.schema_name}"
                    + (f", type {tenant.type}" if tenant.type else "")
                    + f", domain {options['domain'] or '(none)'}"
                )
            )
