"""``check_tenants``: does the registry agree with the database? Optionally repair."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from django.core.management import CommandError, CommandParser
from django.db import ProgrammingError

from ...health import HealthReport, check_tenants, drop_orphan_schema, mark_missing_as_failed
from ..base import TenancyCommand, add_database_argument, add_noinput_argument, check_schema_name


class Command(TenancyCommand):
    help = (
        "Report what is wrong between the tenant registry and the database: schemas no "
        "tenant owns, tenants without a schema, tenants stuck in provisioning or failed, "
        "schemas behind on migrations (the template's too), domains without a tenant. "
        "Exits with status 1 when anything is wrong. --fix marks tenants without a schema "
        "as failed; --drop-orphan NAME drops one orphan schema."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=("table", "json"),
            default="table",
            help="Output format (default: table). JSON is the same report as the health view.",
        )
        parser.add_argument(
            "--fix",
            action="store_true",
            help="Mark the tenants whose schema does not exist as failed (they are no "
            "longer served), then report again.",
        )
        parser.add_argument(
            "--drop-orphan",
            action="append",
            default=[],
            metavar="NAME",
            help="Drop this schema, with every table and row in it, if no tenant owns it. "
            "Repeat for several. Asks for confirmation on a terminal; else pass --noinput.",
        )
        add_noinput_argument(parser, help="Drop orphan schemas without asking (for scripts).")
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        for name in options["drop_orphan"]:
            check_schema_name(name)

    def handle(self, *args: Any, **options: Any) -> None:
        using: str = options["database"]
        try:
            report = check_tenants(using=using)
        except ProgrammingError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.UndefinedTable):
                raise
            raise CommandError(
                "The tenant registry's tables do not exist yet: run `manage.py "
                "migrate_schemas --shared` first."
            ) from exc
        changed = False
        if options["fix"]:
            fixed = mark_missing_as_failed(report, using=using)
            for name in fixed:
                self.stderr.write(f"Marked tenant {name!r} failed: its schema does not exist.")
            changed = changed or bool(fixed)
        for name in options["drop_orphan"]:
            self.confirm_by_typing(
                options,
                action="drop the schema",
                warning=f"This drops the schema {name!r} with ALL its tables and rows.",
                expected=name,
                label="the schema name",
            )
            drop_orphan_schema(name, using=using)
            self.stderr.write(f"Dropped the orphan schema {name!r}.")
            changed = True
        if changed:
            report = check_tenants(using=using)
        if options["format"] == "json":
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self._table(report)
        if not report.ok:
            raise CommandError(
                f"{len(report.problems)} problem{'s' if len(report.problems) != 1 else ''} "
                f"found in {report.tenants} tenants and {report.schemas} schemas."
            )

    def _table(self, report: HealthReport) -> None:
        templates = ", ".join(
            f"{name} " + ("not created yet" if missing is None else f"{missing} pending")
            for name, missing in report.templates.items()
        )
        self.stdout.write(
            f"{report.tenants} tenants, {report.schemas} schemas; template {templates}."
        )
        if report.ok:
            self.stdout.write(self.style.SUCCESS("No problems found."))
            return
        cells = [("PROBLEM", "SCHEMA", "DETAIL")] + [
            (problem.kind, problem.schema_name or "-", problem.message)
            for problem in report.problems
        ]
        widths = [max(len(line[i]) for line in cells) for i in range(2)]
        for number, (kind, schema, detail) in enumerate(cells):
            text = f"{kind.ljust(widths[0])}  {schema.ljust(widths[1])}  {detail}"
            self.stdout.write(self.style.MIGRATE_HEADING(text) if number == 0 else text)
