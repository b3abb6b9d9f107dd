"""``move_tenant``: move a tenant's schema to another Citus node while it keeps serving."""

from __future__ import annotations

from typing import Any

from django.core.management import CommandError, CommandParser

from ...citus import MoveProgress, find_node, move_tenant
from ...citus.nodes import TRANSFER_MODES
from ..base import (
    TenancyCommand,
    add_database_argument,
    add_schema_argument,
    check_schema_name,
    get_tenant,
)


class Command(TenancyCommand):
    help = (
        "Move a tenant to another node of a Citus cluster with citus_schema_move: its tables "
        "are copied with logical replication while it keeps serving reads and writes, then "
        "switched over in a short lock. Prints progress while the copy runs. `list_nodes` "
        "shows the nodes with their tenant counts and sizes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser, "Schema name of the tenant to move.")
        parser.add_argument(
            "--node",
            required=True,
            metavar="HOST:PORT",
            help="The worker node to move the tenant to, as `list_nodes` shows it.",
        )
        parser.add_argument(
            "--mode",
            choices=TRANSFER_MODES,
            default="auto",
            help=(
                "Citus's shard transfer mode (default: auto, logical replication, online). "
                "block_writes blocks the tenant's writes for the whole copy but works for "
                "tables without a primary key or replica identity."
            ),
        )
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        check_schema_name(options["schema_name"])
        host, _, port = options["node"].rpartition(":")
        if not host or not port.isdigit():
            raise CommandError(f"--node must be HOST:PORT, not {options['node']!r}.")

    def handle(self, *args: Any, **options: Any) -> None:
        using: str = options["database"]
        verbosity: int = options["verbosity"]
        tenant = get_tenant(options["schema_name"], using=using)
        target = find_node(options["node"], using=using)  # an unknown node: nothing printed
        if verbosity >= 1:
            self.stdout.write(f"Moving tenant {tenant.schema_name!r} to {target} ...")
        shown: list[str] = []

        def report(progress: MoveProgress) -> None:
            line = f"  {progress}"
            if verbosity >= 1 and (not shown or shown[-1] != line):
                self.stdout.write(line)
                shown.append(line)

        result = move_tenant(
            tenant, options["node"], mode=options["mode"], progress=report, using=using
        )
        if verbosity < 1:
            return
        if not result.moved:
            self.stdout.write(f"Tenant {result.schema_name!r} is on {result.target} already.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Moved tenant {result.schema_name!r} from {result.source} to {result.target} "
                f"in {result.seconds:.1f} s."
            )
        )
