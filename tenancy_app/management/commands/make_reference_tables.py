"""``make_reference_tables``: on Citus, make the shared tables tenant tables reference
reference tables, and put back the sequences Citus resets on the way."""

from __future__ import annotations

from typing import Any

from django.core.management import CommandParser

from ...citus import make_reference_tables, missing_reference_tables
from ...citus.detection import require_citus
from ...citus.reference import ReferenceTablesResult
from ..base import TenancyCommand, add_database_argument


class Command(TenancyCommand):
    help = (
        "On a Citus cluster, make every shared table that a tenant table references (a "
        "foreign key to the tenant registry or to a shared lookup table) a reference table, "
        "referenced tables first, in one transaction; then put back the sequences of the "
        "shared tables Citus turned into local tables, which it resets. Does nothing when "
        "there is nothing to do. `migrate_schemas --reference-tables` runs the same between "
        "the shared schema and the tenant schemas."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only list the shared tables that would be made reference tables.",
        )
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        using: str = options["database"]
        require_citus(using=using)
        if options["dry_run"]:
            missing = missing_reference_tables(using=using)
            if not missing:
                self.stdout.write("Nothing to do: every shared table tenants reference is one.")
            for table in missing:
                self.stdout.write(f"Would make {table} a reference table.")
            return
        report(self, make_reference_tables(using=using), options["verbosity"])


def report(command: TenancyCommand, result: ReferenceTablesResult, verbosity: int) -> None:
    """What ``make_reference_tables`` did, one line each (shared with migrate_schemas)."""
    if verbosity < 1:
        return
    if not result.made:
        command.stdout.write("Reference tables: nothing to do.")
        return
    for table in result.made:
        command.stdout.write(command.style.SUCCESS(f"Made {table} a reference table."))
    for table in result.made_local:
        command.stdout.write(f"Citus made {table} a local Citus table (it references one).")
    for sequence, position in result.restored_sequences:
        command.stdout.write(f"Put sequence {sequence} back at {position} (Citus had reset it).")
