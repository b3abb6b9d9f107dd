"""``list_nodes``: the nodes of a Citus cluster with their tenant counts and sizes."""

from __future__ import annotations

import json
from typing import Any

from django.core.management import CommandParser
from django.template.defaultfilters import filesizeformat

from ...citus import node_usage
from ..base import TenancyCommand, add_database_argument

HEADINGS = ("NODE", "ROLE", "TAKES TENANTS", "TENANTS", "TENANT DATA")


class Command(TenancyCommand):
    help = (
        "List the nodes of the Citus cluster (coordinator and workers) with the number of "
        "tenants each holds and the size of those tenants' tables, to decide which tenants "
        "to move (`move_tenant`). One query per worker, whatever the number of tenants."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=("table", "json"),
            default="table",
            help="Output format (default: table). JSON is a list of objects; sizes in bytes.",
        )
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        usage = node_usage(using=options["database"])
        if options["format"] == "json":
            rows = [
                {
                    "node": entry.node.name,
                    "role": entry.node.role,
                    "takes_tenants": entry.node.takes_tenants,
                    "tenants": entry.tenants,
                    "tenant_bytes": entry.tenant_bytes,
                }
                for entry in usage
            ]
            self.stdout.write(json.dumps(rows, indent=2))
            return
        cells = [HEADINGS] + [
            (
                entry.node.name,
                entry.node.role,
                "yes" if entry.node.takes_tenants else "no",
                str(entry.tenants),
                str(filesizeformat(entry.tenant_bytes)).replace("\xa0", " "),
            )
            for entry in usage
        ]
        widths = [max(len(line[i]) for line in cells) for i in range(len(HEADINGS))]
        for number, line in enumerate(cells):
            text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            text = text.rstrip()
            self.stdout.write(self.style.MIGRATE_HEADING(text) if number == 0 else text)
