"""``tenant_command``: run any other management command in one tenant's schema or in all."""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from typing import IO, Any

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
from ...parallel import FunctionWorker, run_each
from ...tenant_types import validate_tenant_type
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


#: Options of tenant_command that may also follow COMMAND (when COMMAND has no option of
#: that name): option -> (dest, takes a value, may be repeated).
_OWN_OPTIONS = {
    "--schema": ("schema_name", True, False),
    "--all": ("all_tenants", False, False),
    "--exclude": ("exclude", True, True),
    "--type": ("types", True, True),
    "--jobs": ("jobs", True, False),
}


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One tenant's run: its error (empty if it succeeded) and, in parallel, its output."""

    error: str = ""
    output: str = ""
    errors_output: str = ""


class Command(TenancyCommand):
    help = (
        "Run another management command inside one tenant's schema (--schema NAME) or in "
        "every tenant's schema (--all), with that tenant active as in a request. "
        "Everything after COMMAND goes to that command; tenant_command's own options may "
        "also follow it when COMMAND has no option of that name. With --all, --type keeps "
        "the tenants of a tenant type, --exclude leaves tenants out and --jobs N runs N "
        "tenants at a time; a failing tenant does "
        "not stop the others, a summary follows, and the exit status is non-zero if any "
        "failed. `migrate` is refused (use migrate_schemas) and so is `flush` with --all."
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
            "--type",
            action="append",
            dest="types",
            default=[],
            metavar="TYPE",
            help=(
                "With --all: only the tenants of this tenant type (TENANCY['TENANT_TYPES']). "
                "Repeat for several types."
            ),
        )
        parser.add_argument(
            "--exclude",
            action="append",
            default=[],
            metavar="NAME",
            help="With --all: leave out this tenant's schema. Repeat to leave out several.",
        )
        parser.add_argument(
            "--jobs",
            "-j",
            type=int,
            default=1,
            metavar="N",
            help=(
                "With --all: run the command in N tenants at a time, each on its own thread "
                "and database connection; each tenant's output is printed when it ends "
                "(default: 1, one after the other). COMMAND must not prompt: pass it "
                "--noinput if it has one."
            ),
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
        argv = self._split_argv(sub_parser, options["command_args"], options)
        schema_name, all_tenants = options["schema_name"], options["all_tenants"]
        if schema_name is not None and all_tenants:
            raise CommandError("Use either --schema NAME or --all, not both.")
        if schema_name is None and not all_tenants:
            raise CommandError("Say where to run the command: --schema NAME or --all.")
        if not all_tenants and (options["exclude"] or options["types"] or options["jobs"] != 1):
            raise CommandError("--type, --exclude and --jobs go with --all.")
        if options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1.")
        for excluded in options["exclude"]:
            check_schema_name(excluded)
        for tenant_type in options["types"]:
            validate_tenant_type(tenant_type)
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
                self._run_in(get_tenant(schema_name), name, argv, self.stdout, self.stderr)
            return
        tenants = self._tenants(exclude=options["exclude"], types=options["types"])
        self._run_in_all(tenants, name, argv, verbosity=options["verbosity"], jobs=options["jobs"])

    def _split_argv(
        self, sub_parser: argparse.ArgumentParser, argv: list[str], options: dict[str, Any]
    ) -> list[str]:
        """Take tenant_command's own options out of COMMAND's arguments into ``options``,
        except those COMMAND has itself."""
        known = option_strings(sub_parser)
        rest: list[str] = []
        index = 0
        while index < len(argv):
            arg = argv[index]
            if arg == "--":
                rest.extend(argv[index:])
                break
            flag, has_value, value = arg.partition("=")
            own = _OWN_OPTIONS.get(flag)
            if own is None or flag in known:
                rest.append(arg)
                index += 1
                continue
            dest, takes_value, repeated = own
            if not takes_value:
                options[dest] = True
            else:
                if not has_value:
                    index += 1
                    if index >= len(argv):
                        raise CommandError(f"{flag} needs a value.")
                    value = argv[index]
                if repeated:
                    options[dest] = [*options[dest], value]
                elif dest == "jobs":
                    try:
                        options[dest] = int(value)
                    except ValueError as exc:
                        raise CommandError(f"--jobs needs a number, not {value!r}.") from exc
                elif options[dest] is not None and options[dest] != value:
                    raise CommandError(f"{flag} was given twice.")
                else:
                    options[dest] = value
            index += 1
        return rest

    def _tenants(self, *, exclude: list[str], types: list[str]) -> list[TenantBase]:
        """Every tenant (of ``types``), by schema name, without the excluded ones (which must
        be tenants)."""
        with public_context():
            tenants = list(get_tenant_model()._default_manager.order_by("schema_name"))
        names = {tenant.schema_name for tenant in tenants}
        unknown = [name for name in dict.fromkeys(exclude) if name not in names]
        if unknown:
            raise CommandError(
                "--exclude names no tenant: "
                + ", ".join(repr(name) for name in unknown)
                + ". Run `manage.py list_tenants` to see them."
            )
        return [
            tenant
            for tenant in tenants
            if tenant.schema_name not in exclude and (not types or tenant.type in types)
        ]

    def _run_in(
        self, tenant: TenantBase, name: str, argv: list[str], stdout: Any, stderr: Any
    ) -> None:
        require_schema(tenant.schema_name)
        with tenant_context(tenant):
            call_command(name, *argv, stdout=stdout, stderr=stderr)

    def _run_one(
        self, tenant: TenantBase, name: str, argv: list[str], *, buffered: bool
    ) -> _Outcome:
        """Run the command in one tenant; a failure is returned, never raised."""
        stdout: IO[str] | Any = io.StringIO() if buffered else self.stdout
        stderr: IO[str] | Any = io.StringIO() if buffered else self.stderr
        error = ""
        try:
            self._run_in(tenant, name, argv, stdout, stderr)
        except SystemExit as exc:  # some commands exit instead of raising
            if exc.code not in (0, None):
                error = f"exited with status {exc.code}"
        except Exception as exc:  # one tenant's failure must not stop the others
            error = describe_error(exc)
        if not buffered:
            return _Outcome(error)
        assert isinstance(stdout, io.StringIO) and isinstance(stderr, io.StringIO)
        return _Outcome(error, stdout.getvalue(), stderr.getvalue())

    def _run_in_all(
        self, tenants: list[TenantBase], name: str, argv: list[str], *, verbosity: int, jobs: int
    ) -> None:
        total = len(tenants)
        width = len(str(total))
        failed: list[str] = []
        buffered = jobs > 1
        position = 0

        def heading(tenant: TenantBase) -> None:
            nonlocal position
            position += 1
            if verbosity >= 1:
                self.stdout.write(
                    f"[{position:>{width}}/{total}] {tenant.schema_name}",
                    self.style.MIGRATE_HEADING,
                )

        def run(tenant: TenantBase) -> _Outcome:
            if not buffered:
                heading(tenant)  # before the command's own output, which streams
            return self._run_one(tenant, name, argv, buffered=buffered)

        def done(tenant: TenantBase, outcome: _Outcome) -> None:
            if buffered:
                heading(tenant)
                self.stdout.write(outcome.output, ending="")
                self.stderr.write(outcome.errors_output, ending="")
            if outcome.error:
                failed.append(tenant.schema_name)
                self.stderr.write(f"{tenant.schema_name}: {outcome.error}")

        run_each(
            tenants,
            lambda own_connection: FunctionWorker(run, own_connection=own_connection),
            workers=jobs,
            on_done=done,
        )
        if failed:
            failed.sort()
            if verbosity >= 1:
                self.stdout.write(
                    f"Ran {name!r} in {total} tenants: {total - len(failed)} succeeded, "
                    f"{len(failed)} failed."
                )
            raise CommandError(
                f"{name!r} failed in {len(failed)} of {total} tenants: {', '.join(failed)}."
            )
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"Ran {name!r} in {total} tenants; none failed."))
