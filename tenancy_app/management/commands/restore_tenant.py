"""``restore_tenant``: recreate a tenant from a file written by ``dump_tenant``."""

from __future__ import annotations

import sys
from typing import IO, Any

from django.core.management import CommandError, CommandParser

from ...backup import restore_tenant
from ...context import public_context
from ...models import get_tenant_model, validate_host_name
from ..base import (
    TenancyCommand,
    add_database_argument,
    add_noinput_argument,
    add_schema_argument,
    check_schema_name,
)


class Command(TenancyCommand):
    help = (
        "Recreate a tenant from a file written by dump_tenant, under the schema name given: "
        "as a new tenant (the original may keep serving), or over the tenant of that name "
        "with --replace. All of it happens in one transaction: a corrupt or truncated file, "
        "or any failure, creates nothing. A file with migrations this code lacks is "
        "refused; one that lacks migrations is migrated. Needs no client binary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="The dump ('-' for standard input).")
        add_schema_argument(parser, "Schema name of the restored tenant.", metavar="NEW")
        parser.add_argument("--name", help="Display name (default: the dumped tenant's).")
        domains = parser.add_mutually_exclusive_group()
        domains.add_argument(
            "--domain",
            action="append",
            metavar="HOST",
            help="Give the restored tenant this domain instead of the dumped ones (repeat "
            "for several; the first is primary). Needed while the original keeps its own.",
        )
        domains.add_argument(
            "--no-domain", action="store_true", help="Restore the tenant without any domain."
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Replace the tenant registered under NEW (deleted with its schema, in the "
            "same transaction). Asks for confirmation on a terminal; else pass --noinput.",
        )
        add_noinput_argument(parser, help="Replace without asking for confirmation.")
        add_database_argument(parser)

    def validate(self, options: dict[str, Any]) -> None:
        check_schema_name(options["schema_name"])
        for domain in options["domain"] or ():
            validate_host_name(domain)

    def handle(self, *args: Any, **options: Any) -> None:
        schema_name: str = options["schema_name"]
        using: str = options["database"]
        if options["replace"]:
            self._confirm_replace(schema_name, options)
        domains = [] if options["no_domain"] else options["domain"]

        def on_table(name: str, rows: int) -> None:
            if options["verbosity"] >= 2:
                self.stdout.write(f"  {name}: {rows} rows")

        def on_wait(seconds: float) -> None:
            if options["verbosity"] >= 1:
                self.stderr.write(
                    f"Waiting {seconds:.1f} s until no process uses {schema_name!r} any more."
                )

        if options["file"] == "-":
            tenant = self._restore(sys.stdin.buffer, options, domains, on_table, on_wait)
        else:
            try:
                file = open(options["file"], "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise CommandError(f"Could not read the dump: {exc}") from exc
            with file:
                tenant = self._restore(file, options, domains, on_table, on_wait)
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Restored tenant {tenant.name!r} as schema {tenant.schema_name} "
                    f"({tenant.status}) on {using!r}."
                )
            )

    def _restore(
        self,
        file: IO[bytes],
        options: dict[str, Any],
        domains: list[str] | None,
        on_table: Any,
        on_wait: Any,
    ) -> Any:
        try:
            return restore_tenant(
                file,
                schema_name=options["schema_name"],
                name=options["name"],
                domains=domains,
                replace=options["replace"],
                using=options["database"],
                on_table=on_table,
                on_wait=on_wait,
            )
        except OSError as exc:
            raise CommandError(f"Could not read the dump: {exc}") from exc

    def _confirm_replace(self, schema_name: str, options: dict[str, Any]) -> None:
        if not options["interactive"]:
            return
        with public_context():
            current = (
                get_tenant_model()
                ._default_manager.using(options["database"])
                .filter(schema_name=schema_name)
                .first()
            )
        what = f"ALL DATA of tenant {current}" if current is not None else repr(schema_name)
        self.confirm_by_typing(
            options,
            action="replace",
            warning=f"This replaces {what} with the dump's.",
            expected=schema_name,
            label="the schema name",
        )
