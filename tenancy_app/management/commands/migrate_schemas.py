"""``migrate_schemas``: the shared schema first, then the template and every tenant schema.

A thin command over :mod:`tenancy_app.migrator`: it chooses the schemas, shows progress
and the summary, and turns failures into a non-zero exit status.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from django.apps import apps
from django.core.management import CommandError, CommandParser
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import connections

from ...citus import make_reference_tables, missing_reference_tables, require_citus
from ...conf import tenancy_settings
from ...context import public_context
from ...exceptions import TenantError, describe_error
from ...migration_scopes import scope_of
from ...migrator import MigrationRun, SchemaResult, migrate_schema
from ...migrator.lock import exclusive_run
from ...migrator.planning import GroupPlan
from ...migrator.progress import Bar, Lines, Progress, Silent, summary_lines
from ...migrator.results import Outcome, record_results
from ...migrator.workers import default_jobs
from ...models import get_tenant_model
from ...routers import app_labels
from ...schemas import schema_exists
from ...tenant_types import app_entries_of_type, template_schemas, validate_tenant_type
from ..base import (
    TenancyCommand,
    check_schema_name,
    is_terminal,
    user_errors,
)
from .make_reference_tables import report as report_reference_tables

# Options of this command that Django's migrate must not receive.
_OWN_OPTIONS = frozenset(
    {
        "schemas",
        "shared",
        "tenants",
        "types",
        "jobs",
        "reference_tables",
        "app_label",
        "migration_name",
        "database",
        "interactive",
        "verbosity",
        "settings",
        "pythonpath",
        "traceback",
        "no_color",
        "force_color",
        "skip_checks",
        "stdout",
        "stderr",
        "stdin",
    }
)

# Options the engine does not handle: with them, Django's migrate runs in each schema.
_DJANGO_MIGRATE_ONLY = ("fake_initial", "run_syncdb", "prune")

#: Schema names shown per group by --plan (all of them with -v 2).
_PLAN_NAMES = 5


def _has_registry(using: str) -> bool:
    """Whether the tenant table exists in the public schema (call in public_context)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    return get_tenant_model()._meta.db_table in tables


class Command(TenancyCommand):
    help = (
        "Migrate the shared (public) schema first, then the template schema if it exists "
        "(one per tenant type, with TENANCY['TENANT_TYPES']), then every tenant schema of "
        "the registry. Schemas already up to date are skipped "
        "without work; the others run in parallel workers (--jobs), one transaction per "
        "schema, so a failing schema is rolled back and does not stop the others. Takes "
        "migrate's arguments, so `migrate_schemas notes zero` unapplies the notes app "
        "everywhere. Exits non-zero if any schema failed; a rerun resumes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # Django's migrate arguments, not re-declared: app_label, migration_name,
        # --noinput, --database, --fake, --fake-initial, --plan, --run-syncdb, --check,
        # --prune.
        MigrateCommand().add_arguments(parser)
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--schema",
            "-s",
            action="append",
            dest="schemas",
            metavar="NAME",
            help=(
                "Migrate only this schema (a tenant's schema, the public schema or the "
                "template schema). Repeat to migrate several."
            ),
        )
        which.add_argument(
            "--shared",
            action="store_true",
            help="Migrate only the shared (public) schema.",
        )
        which.add_argument(
            "--tenants",
            action="store_true",
            help="Migrate only the template schema (if it exists) and the tenant schemas.",
        )
        which.add_argument(
            "--type",
            action="append",
            dest="types",
            metavar="TYPE",
            help=(
                "Migrate only the template schema and the tenants of this tenant type "
                "(TENANCY['TENANT_TYPES']). Repeat for several types."
            ),
        )
        parser.add_argument(
            "--jobs",
            "-j",
            type=int,
            metavar="N",
            default=None,
            help=(
                "Migrate N schemas at a time, each worker with its own database connection "
                f"(default: the CPU count, at most 4; here {default_jobs()})."
            ),
        )
        parser.add_argument(
            "--nowait",
            action="store_true",
            help=(
                "Fail at once if another migrate_schemas run is in progress on the database "
                "(default: wait for it to end, then migrate what is still pending)."
            ),
        )

        parser.add_argument(
            "--reference-tables",
            action="store_true",
            help=(
                "On Citus: after the shared schema and before the tenant schemas, make the "
                "shared tables that tenant tables reference reference tables (as "
                "`make_reference_tables` does). Without it, tenant schemas with work wait "
                "while such a table is not one yet."
            ),
        )

    def get_check_kwargs(self, options: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        # As Django's migrate: database checks too, on the database being migrated.
        # (django-stubs types the result with str | None keys, hence the ignore.)
        return {"databases": [options["database"]]}

    def validate(self, options: dict[str, Any]) -> None:
        allow = tenancy_settings.RESERVED_SCHEMAS
        for name in options["schemas"] or ():
            check_schema_name(name, allow=allow)
        for tenant_type in options["types"] or ():
            validate_tenant_type(tenant_type)
        if options["jobs"] is not None and options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1.")
        if options["app_label"]:
            # Reported once here rather than once per schema.
            try:
                apps.get_app_config(options["app_label"])
            except LookupError as exc:
                raise CommandError(
                    f"No installed app with label {options['app_label']!r}."
                ) from exc

    def handle(self, *args: Any, **options: Any) -> None:
        using: str = options["database"]
        requested: list[str] = list(dict.fromkeys(options["schemas"] or ()))
        schemas = self._schemas(
            requested,
            shared=options["shared"],
            tenants=options["tenants"],
            types=options["types"],
            using=using,
        )
        if options["plan"] or options["check_unapplied"]:
            self._report(schemas, options)  # reads only: no lock
            return
        if options["reference_tables"]:
            with user_errors():
                require_citus(using=using)
        with (
            user_errors(),
            exclusive_run(using, nowait=options["nowait"], on_wait=self._say_waiting),
        ):
            if any(options.get(name) for name in _DJANGO_MIGRATE_ONLY):
                self._with_django_migrate(schemas, options)
            else:
                self._report(schemas, options)

    def _say_waiting(self) -> None:
        self.stderr.write("Another migrate_schemas run is in progress: waiting for it to end.")

    def _report(self, schemas: list[str], options: dict[str, Any]) -> None:
        using: str = options["database"]
        run = MigrationRun(
            schemas,
            using=using,
            app_label=options["app_label"],
            migration_name=options["migration_name"],
        )
        if options["plan"]:
            self._print_plan(run, options["verbosity"])
            if options["check_unapplied"] and run.pending:
                sys.exit(1)
            return
        check = bool(options["check_unapplied"])
        progress = self._progress(len(run.schemas), options["verbosity"])
        if check:
            results = run.check(on_result=progress.result)
        else:
            results = run.execute(
                fake=options["fake"],
                jobs=options["jobs"],
                verbosity=options["verbosity"],
                stdout=self.stdout,
                on_result=progress.result,
                before_tenants=functools.partial(self._reference_tables, options),
            )
            record_results(results, using=using)
        progress.finish()
        self._summarize(results, options["verbosity"], check=check)

    def _reference_tables(self, options: dict[str, Any]) -> None:
        """On Citus, shared tables that tenant tables reference must be reference tables."""
        using: str = options["database"]
        if options["reference_tables"]:
            report_reference_tables(self, make_reference_tables(using=using), options["verbosity"])
            return
        missing = missing_reference_tables(using=using)
        if missing:
            raise TenantError(
                "On Citus, tenant tables reference the shared table(s) "
                + ", ".join(missing)
                + ", which are not reference tables yet: run `manage.py migrate_schemas "
                "--reference-tables` (or `manage.py make_reference_tables`)."
            )

    def _progress(self, total: int, verbosity: int) -> Progress:
        if verbosity < 1:
            return Silent()
        if is_terminal(self.stdout):
            return Bar(self.stdout, total)
        return Lines(self.stdout, total, verbosity, self.style)

    def _print_plan(self, run: MigrationRun, verbosity: int) -> None:
        """What would run, per group of schemas at the same migration state."""
        write = self.stdout.write
        write(
            "Planned operations, per group of schemas at the same migration state:",
            self.style.MIGRATE_LABEL,
        )
        for name in run.missing:
            write(f"{name}: the schema does not exist.", self.style.WARNING)
        for group in run.groups:
            write(self._group_heading(group, verbosity), self.style.MIGRATE_HEADING)
            if group.error is not None:
                write(f"  Cannot plan: {group.error}", self.style.WARNING)
            elif not group.has_work:
                write("  No planned migration operations.")
            apps = app_labels(app_entries_of_type(group.tenant_type)) if group.tenant_type else None
            for migration, backwards in group.plan:
                if apps is not None and migration.app_label not in apps:
                    write(
                        f"  {migration} (recorded only: not an app of type {group.tenant_type})",
                        self.style.MIGRATE_HEADING,
                    )
                    continue
                write(f"  {migration}", self.style.MIGRATE_HEADING)
                for operation in migration.operations:
                    message, is_error = MigrateCommand.describe_operation(operation, backwards)
                    scope = scope_of(operation)
                    if scope is not None:
                        message += f" (only in {scope.describe()})"
                    write("    " + message, self.style.WARNING if is_error else None)
            for app_label, name in group.record_squashed:
                write(f"  Record squashed migration {app_label}.{name} as applied")

    def _group_heading(self, group: GroupPlan, verbosity: int) -> str:
        count = len(group.schemas)
        names = group.schemas if verbosity >= 2 else group.schemas[:_PLAN_NAMES]
        shown = ", ".join(names)
        if len(names) < count:
            shown += f", ... {count - len(names)} more"
        noun = "schema" if count == 1 else "schemas"
        kind = f"type {group.tenant_type}: " if group.tenant_type else ""
        return f"{kind}{count} {noun} ({shown}):"

    def _summarize(self, results: list[SchemaResult], verbosity: int, *, check: bool) -> None:
        total = len(results)
        failures = [result for result in results if result.outcome is Outcome.FAILED]
        pending = [result for result in results if result.outcome is Outcome.PENDING]
        if verbosity >= 1:
            heading = "Summary (--check: nothing was changed):" if check else "Summary:"
            self.stdout.write(heading, self.style.MIGRATE_HEADING)
            for line in summary_lines(results, check=check):
                self.stdout.write(line)
        for result in failures:
            self.stderr.write(f"  {result.schema_name}: {result.error}")
        if check:
            self._end_check(total, failures, pending, verbosity)
            return
        if verbosity >= 1:
            ok = total - len(failures)
            if failures:
                self.stdout.write(f"Migrated {ok} of {total} schemas; {len(failures)} failed:")
            else:
                self.stdout.write(
                    self.style.SUCCESS(f"Migrated {ok} of {total} schemas; none failed.")
                )
        if failures:
            raise CommandError(
                f"{len(failures)} of {total} schemas failed to migrate: "
                + ", ".join(result.schema_name for result in failures)
                + ". Fix them and run migrate_schemas again: each schema resumes from the "
                "migrations it has applied."
            )

    def _end_check(
        self,
        total: int,
        failures: list[SchemaResult],
        pending: list[SchemaResult],
        verbosity: int,
    ) -> None:
        behind = failures + pending
        if not behind:
            if verbosity >= 1:
                self.stdout.write(self.style.SUCCESS(f"All {total} schemas are up to date."))
            return
        raise CommandError(
            f"{len(behind)} of {total} schemas are not up to date: "
            + ", ".join(result.schema_name for result in behind)
            + ". Nothing was changed (--check)."
        )

    def _with_django_migrate(self, schemas: list[str], options: dict[str, Any]) -> None:
        """--fake-initial, --run-syncdb, --prune: Django's migrate in each schema in turn."""
        using: str = options["database"]
        verbosity: int = options["verbosity"]
        migrate_args = [
            value for value in (options["app_label"], options["migration_name"]) if value
        ]
        migrate_options = {key: value for key, value in options.items() if key not in _OWN_OPTIONS}
        failures: list[tuple[str, str]] = []
        total = len(schemas)
        width = len(str(total))
        for index, schema_name in enumerate(schemas, start=1):
            label = f"[{index:>{width}}/{total}] {schema_name}"
            if verbosity >= 2:
                self.stdout.write(f"{label}:", self.style.MIGRATE_HEADING)
            try:
                migrate_schema(
                    schema_name,
                    *migrate_args,
                    using=using,
                    verbosity=max(verbosity - 1, 0),
                    stdout=self.stdout,
                    **migrate_options,
                )
            except Exception as exc:  # one schema's failure must not stop the others
                failures.append((schema_name, describe_error(exc)))
                self.stdout.write(f"{label} ... FAILED")
            else:
                self.stdout.write(f"{label} ... " + self.style.SUCCESS("ok"))
        for schema_name, error in failures:
            self.stderr.write(f"  {schema_name}: {error}")
        if failures:
            raise CommandError(
                f"{len(failures)} of {total} schemas failed to migrate: "
                + ", ".join(name for name, _ in failures)
                + "."
            )
        self.stdout.write(self.style.SUCCESS(f"Migrated {total} of {total} schemas; none failed."))

    def _schemas(
        self,
        requested: list[str],
        *,
        shared: bool,
        tenants: bool,
        types: list[str] | None,
        using: str,
    ) -> list[str]:
        """The schemas to migrate, in order: public, templates, tenants by schema name."""
        public = tenancy_settings.PUBLIC_SCHEMA
        templates = template_schemas()
        with public_context():
            # On a fresh database the registry table appears only once the public
            # schema is migrated; until then there are no tenants to migrate.
            has_registry = _has_registry(using)
            registry = get_tenant_model()._default_manager.using(using)
            if requested:
                known = set(
                    registry.filter(schema_name__in=requested).values_list("schema_name", flat=True)
                    if has_registry
                    else ()
                )
                unknown = [
                    name
                    for name in requested
                    if name not in known
                    and name != public
                    and not (name in templates and schema_exists(name, using=using))
                ]
                if unknown:
                    raise CommandError(
                        "No tenant with schema "
                        + ", ".join(repr(name) for name in unknown)
                        + ". Run `manage.py list_tenants` to see the tenants."
                    )
                first = [name for name in (public, *templates) if name in requested]
                rest = sorted(name for name in requested if name not in first)
                return first + rest
            schemas = [] if tenants or types else [public]
            if shared:
                return schemas
            for template, tenant_type in templates.items():
                if (not types or tenant_type in types) and schema_exists(template, using=using):
                    schemas.append(template)
            if has_registry:
                if types:
                    registry = registry.filter(type__in=types)
                schemas.extend(
                    registry.order_by("schema_name").values_list("schema_name", flat=True)
                )
            return schemas
