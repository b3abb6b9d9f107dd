"""``tenant_command``: run any other management command in one tenant's schema or in all."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management import (
    CommandError,
    CommandParser,
    call_command,
    get_commands,
    load_command_class,
)

from ...conf import tenancy_settings
from ...context import public_context, tenant_context
from ...exceptions import describe_error
from ...internals import option_strings
from ...models import TenantBase, get_tenant_model
from ..base import TenancyCommand, check_schema_name, get_tenant, require_schema

# Commands tenant_command refuses, with what to use instead.
REFUSED = {
    "migrate": "use `migrate_schemas --schema NAME` (or plain migrate_schemas for all)",
    "tenant_command": "it is already running inside a tenant",
}
# Commands refused with --all: too destructive to repeat in every tenant at once.
REFUSED_WITH_ALL = {
    "flush": "it would empty every tenant; run it with --schema NAME for one tenant",
}


class Command(TenancyCommand):
    help = (
        "Run another management command inside one tenant's schema (--schema NAME) or in "
        "every tenant's schema (--all), with that tenant active as in a request. "
        "Everything after COMMAND goes to that command; --schema and --all may also follow "
        "it when COMMAND has no option of that name. With --all a failing tenant does not "
        "stop the others, and the exit status is non-zero if any failed. `migrate` is "
        "refused (use migrate_schemas) and so is `flush` with --all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--schema",
            dest="schema_name",
            metavar="NAME",
            help="The tenant's schema (or the public schema) to run the command in.",
        )
        which.add_argument(
            "--all",
            action="store_true",
            dest="all_tenants",
            help="Run the command in every tenant, ordered by schema name.",
        )
        parser.add_argument(
            "command_name", metavar="COMMAND", help="The management command to run."
        )
        parser.add_argument(
            "command_args",
            metavar="ARGS",
            nargs=argparse.REMAINDER,
            help="Arguments and options for COMMAND.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["command_name"]
        commands = get_commands()
        if name not in commands:
            raise CommandError(f"Unknown command: {name!r}. Run `manage.py help` to list them.")
        if name in REFUSED:
            raise CommandError(f"tenant_command refuses {name!r}: {REFUSED[name]}.")
        subcommand = load_command_class(commands[name], name)
        sub_parser = subcommand.create_parser("", name)
        schema_name, all_tenants, argv = self._split_argv(
            sub_parser, options["command_args"], options["schema_name"], options["all_tenants"]
        )
        if all_tenants and name in REFUSED_WITH_ALL:
            raise CommandError(
                f"tenant_command refuses {name!r} with --all: {REFUSED_WITH_ALL[name]}."
            )
        sub_parser.parse_args(argv)  # a usage error is reported once, before any SQL
        if schema_name is not None:
            public = tenancy_settings.PUBLIC_SCHEMA
            check_schema_name(schema_name, allow=(public,))
            if schema_name == public:
                with public_context():
                    call_command(name, *argv, stdout=self.stdout, stderr=self.stderr)
            else:
                self._run_in(get_tenant(schema_name), name, argv)
            return
        self._run_in_all(name, argv, verbosity=options["verbosity"])

    def _split_argv(
        self,
        sub_parser: argparse.ArgumentParser,
        argv: list[str],
        schema_name: str | None,
        all_tenants: bool,
    ) -> tuple[str | None, bool, list[str]]:
        """Take --schema / --all out of COMMAND's arguments, unless COMMAND has such options."""
        known = option_strings(sub_parser)
        rest: list[str] = []
        index = 0
        while index < len(argv):
            arg = argv[index]
            if arg == "--":
                rest.extend(argv[index:])
                break
            if "--schema" not in known and (arg == "--schema" or arg.startswith("--schema=")):
                if "=" in arg:
                    value = arg.split("=", 1)[1]
                elif index + 1 < len(argv):
                    index += 1
                    value = argv[index]
                else:
                    raise CommandError("--schema needs a schema name.")
                if schema_name is not None and schema_name != value:
                    raise CommandError("--schema was given twice.")
                schema_name = value
            elif "--all" not in known and arg == "--all":
                all_tenants = True
            else:
                rest.append(arg)
            index += 1
        if schema_name is not None and all_tenants:
            raise CommandError("Use either --schema NAME or --all, not both.")
        if schema_name is None and not all_tenants:
            raise CommandError("Say where to run the command: --schema NAME or --all.")
        return schema_name, all_tenants, rest

    def _run_in(self, tenant: TenantBase, name: str, argv: list[str]) -> None:
        require_schema(tenant.schema_name)
        with tenant_context(tenant):
            call_command(name, *argv, stdout=self.stdout, stderr=self.stderr)

    def _run_in_all(self, name: str, argv: list[str], *, verbosity: int) -> None:
        with public_context():
            tenants = list(get_tenant_model()._default_manager.order_by("schema_name"))
        total = len(tenants)
        width = len(str(total))
        failed: list[str] = []
        for index, tenant in enumerate(tenants, start=1):
            if verbosity >= 1:
                self.stdout.write(
                    f"[{index:>{width}}/{total}] {tenant.schema_name}", self.style.MIGRATE_HEADING
                )
            try:
                self._run_in(tenant, name, argv)
            except SystemExit as exc:  # some commands exit instead of raising
                if exc.code in (0, None):
                    continue
                failed.append(tenant.schema_name)
                self.stderr.write(f"{tenant.schema_name}: exited with status {exc.code}")
            except Exception as exc:  # one tenant's failure must not stop the others
                failed.append(tenant.schema_name)
                self.stderr.write(f"{tenant.schema_name}: {describe_error(exc)}")
        if failed:
            raise CommandError(
                f"{name!r} failed in {len(failed)} of {total} tenants: {', '.join(failed)}."
            )
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"Ran {name!r} in {total} tenants; none failed."))
