"""``dump_tenant``: write one tenant to one self-contained file (no client binary needed)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import IO, Any

from django.core.management import CommandError, CommandParser

from ...backup import dump_tenant
from ..base import TenancyCommand, add_database_argument, add_schema_argument, check_schema_name
from ..base import get_tenant as registered_tenant


class Command(TenancyCommand):
    help = (
        "Write a tenant to one file: its registry entry (name, status, domains), its "
        "schema's tables, views, constraints and indexes, every row, the sequences' "
        "positions and the applied migrations, read in one consistent transaction and "
        "streamed (constant memory). Needs no client binary: it talks to the server "
        "through the app's own database connection. `restore_tenant FILE` reads it back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser, "Schema name of the tenant to dump.")
        parser.add_argument(
            "-o",
            "--output",
            required=True,
            metavar="FILE",
            help="The file to write ('-' for standard output). Written under a temporary "
            "name and renamed at the end, so FILE is never left half-written.",
        )
        parser.add_argument(
            "--compress",
            type=int,
            choices=range(10),
            default=1,
            metavar="0-9",
            help="gzip level (default 1: on table data within a few percent of level 6's "
            "size, at twice its speed; 0 stores the data uncompressed).",
        )
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        check_schema_name(options["schema_name"])

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = registered_tenant(options["schema_name"], using=options["database"])
        output: str = options["output"]
        verbose = options["verbosity"] >= 1
        progress = self.stderr if output == "-" else self.stdout

        def on_table(name: str, rows: int, size: int) -> None:
            if options["verbosity"] >= 2:
                progress.write(f"  {name}: {rows} rows, {size:,} bytes")

        if output == "-":
            summary = self._dump(tenant, sys.stdout.buffer, options, on_table)
        else:
            target = Path(output)
            partial = target.with_name(target.name + ".partial")
            try:
                with partial.open("wb") as file:
                    summary = self._dump(tenant, file, options, on_table)
                os.replace(partial, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    partial.unlink()
                raise
        if verbose:
            where = "standard output" if output == "-" else output
            progress.write(
                self.style.SUCCESS(
                    f"Dumped tenant {tenant.schema_name!r} to {where}: {summary.tables} "
                    f"tables, {summary.rows} rows, {summary.data_bytes:,} bytes of data."
                )
            )

    def _dump(self, tenant: Any, file: IO[bytes], options: dict[str, Any], on_table: Any) -> Any:
        try:
            return dump_tenant(
                tenant,
                file,
                using=options["database"],
                compresslevel=options["compress"],
                on_table=on_table,
            )
        except OSError as exc:
            raise CommandError(f"Could not write the dump: {exc}") from exc
