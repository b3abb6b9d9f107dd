"""``list_tenants``: the tenant registry as a table or as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management import CommandParser
from django.db.models import Prefetch

from ...citus import is_citus, tenant_nodes
from ...context import public_context
from ...models import TenantStatus, get_domain_model, get_tenant_model
from ...tenant_types import is_typed, validate_tenant_type
from ..base import TenancyCommand, add_database_argument

COLUMNS = ("schema_name", "name", "status", "primary_domain")
HEADINGS = ("SCHEMA", "NAME", "STATUS", "PRIMARY DOMAIN")
#: With tenant types, after the status.
TYPE_COLUMN, TYPE_HEADING = "type", "TYPE"


class Command(TenancyCommand):
    help = (
        "List the tenants (schema, name, status, type if the project has tenant types, "
        "primary domain, and on a Citus cluster the node holding each), ordered by schema "
        "name, as a table or as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=("table", "json"),
            default="table",
            help="Output format (default: table). JSON is a list of objects.",
        )
        parser.add_argument(
            "--status",
            action="append",
            choices=TenantStatus.values,
            help="Only tenants with this status; repeat for several.",
        )
        parser.add_argument(
            "--type",
            action="append",
            dest="types",
            metavar="TYPE",
            help="Only tenants of this tenant type; repeat for several.",
        )
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        for tenant_type in options["types"] or ():
            validate_tenant_type(tenant_type)

    def handle(self, *args: Any, **options: Any) -> None:
        using: str = options["database"]
        rows = self._rows(options["status"], options["types"], using=using)
        if is_citus(using=using):
            nodes = tenant_nodes([str(row["schema_name"]) for row in rows], using=using)
            for row in rows:
                node = nodes.get(str(row["schema_name"]))
                row["node"] = node.name if node is not None else None
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2))
        else:
            self._table(rows)

    def _rows(
        self, statuses: list[str] | None, types: list[str] | None, *, using: str
    ) -> list[dict[str, str | None]]:
        primary = Prefetch(
            "domains",
            queryset=get_domain_model()._default_manager.using(using).filter(is_primary=True),
            to_attr="primary_domains",
        )
        with public_context():
            tenants = get_tenant_model()._default_manager.using(using).order_by("schema_name")
            if statuses:
                tenants = tenants.filter(status__in=statuses)
            if types:
                tenants = tenants.filter(type__in=types)
            typed = is_typed()
            return [
                {
                    "schema_name": tenant.schema_name,
                    "name": tenant.name,
                    "status": tenant.status,
                    **({TYPE_COLUMN: tenant.type} if typed else {}),
                    "primary_domain": next(
                        (domain.domain for domain in tenant.primary_domains), None
                    ),
                }
                for tenant in tenants.prefetch_related(primary)
            ]

    def _table(self, rows: list[dict[str, str | None]]) -> None:
        if not rows:
            self.stdout.write("No tenants.")
            return
        columns: tuple[str, ...] = COLUMNS
        headings: tuple[str, ...] = HEADINGS
        if TYPE_COLUMN in rows[0]:
            columns = (*COLUMNS[:3], TYPE_COLUMN, *COLUMNS[3:])
            headings = (*HEADINGS[:3], TYPE_HEADING, *HEADINGS[3:])
        if "node" in rows[0]:
            columns, headings = (*columns, "node"), (*headings, "NODE")
        cells = [headings] + [tuple(row[column] or "-" for column in columns) for row in rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        for number, line in enumerate(cells):
            text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            text = text.rstrip()
            self.stdout.write(self.style.MIGRATE_HEADING(text) if number == 0 else text)
        self.stdout.write(f"({len(rows)} tenant{'s' if len(rows) != 1 else ''})")
