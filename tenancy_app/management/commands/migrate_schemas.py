"""``migrate_schemas``: Django's ``migrate`` in the shared schema, then in every tenant schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.management import CommandError, CommandParser
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import connections

from ...conf import tenancy_settings
from ...context import public_context
from ...migration import migrate_schema
from ...models import get_tenant_model
from ...schemas import schema_exists
from ..base import TenancyCommand, check_schema_name, format_error

# Options of this command that Django's migrate must not receive.
_OWN_OPTIONS = frozenset(
    {
        "schemas",
        "shared",
        "tenants",
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


def _has_registry(using: str) -> bool:
    """Whether the tenant table exists in the public schema (call in public_context)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    return get_tenant_model()._meta.db_table in tables


@dataclass(frozen=True)
class Failure:
    schema_name: str
    error: str


class Command(TenancyCommand):
    help = (
        "Run Django's migrate in the shared (public) schema first, then in the template "
        "schema if it exists, then in every tenant schema of the registry (ordered by "
        "schema name). Takes migrate's arguments, so `migrate_schemas notes zero` unapplies "
        "the notes app everywhere. A failing schema does not stop the others: each schema "
        "is reported, and the command exits non-zero at the end if any failed."
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

    def get_check_kwargs(self, options: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        # As Django's migrate: database checks too, on the database being migrated.
        # (django-stubs types the result with str | None keys, hence the ignore.)
        return {"databases": [options["database"]]}

    def validate(self, options: dict[str, Any]) -> None:
        allow = (tenancy_settings.PUBLIC_SCHEMA, tenancy_settings.TEMPLATE_SCHEMA)
        for name in options["schemas"] or ():
            check_schema_name(name, allow=allow)
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
        verbosity: int = options["verbosity"]
        requested: list[str] = list(dict.fromkeys(options["schemas"] or ()))
        schemas = self._schemas(
            requested, shared=options["shared"], tenants=options["tenants"], using=using
        )
        migrate_args = [
            value for value in (options["app_label"], options["migration_name"]) if value
        ]
        migrate_options = {key: value for key, value in options.items() if key not in _OWN_OPTIONS}
        show_output = verbosity >= 2 or bool(options.get("plan"))

        failures: list[Failure] = []
        total = len(schemas)
        width = len(str(total))
        for index, schema_name in enumerate(schemas, start=1):
            label = f"[{index:>{width}}/{total}] {schema_name}"
            if show_output:
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
            except SystemExit as exc:
                # ``migrate --check`` exits when migrations are unapplied.
                failures.append(Failure(schema_name, f"exited with status {exc.code}"))
                self.stdout.write(f"{label} ... FAILED (unapplied migrations)")
            except Exception as exc:  # one schema's failure must not stop the others
                failures.append(Failure(schema_name, format_error(exc)))
                self.stdout.write(f"{label} ... FAILED")
            else:
                self.stdout.write(f"{label} ... " + self.style.SUCCESS("ok"))

        self._summarize(total, failures)

    def _schemas(
        self, requested: list[str], *, shared: bool, tenants: bool, using: str
    ) -> list[str]:
        """The schemas to migrate, in order: public, template, tenants by schema name."""
        public = tenancy_settings.PUBLIC_SCHEMA
        template = tenancy_settings.TEMPLATE_SCHEMA
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
                    and not (name == template and schema_exists(template, using=using))
                ]
                if unknown:
                    raise CommandError(
                        "No tenant with schema "
                        + ", ".join(repr(name) for name in unknown)
                        + ". Run `manage.py list_tenants` to see the tenants."
                    )
                first = [name for name in (public, template) if name in requested]
                rest = sorted(name for name in requested if name not in first)
                return first + rest
            schemas = [] if tenants else [public]
            if shared:
                return schemas
            if schema_exists(template, using=using):
                schemas.append(template)
            if has_registry:
                schemas.extend(
                    registry.order_by("schema_name").values_list("schema_name", flat=True)
                )
            return schemas

    def _summarize(self, total: int, failures: list[Failure]) -> None:
        migrated = total - len(failures)
        if not failures:
            self.stdout.write(
                self.style.SUCCESS(f"Migrated {migrated} of {total} schemas; none failed.")
            )
            return
        self.stdout.write(f"Migrated {migrated} of {total} schemas; {len(failures)} failed:")
        for failure in failures:
            self.stderr.write(f"  {failure.schema_name}: {failure.error}")
        raise CommandError(
            f"{len(failures)} of {total} schemas failed to migrate: "
            + ", ".join(failure.schema_name for failure in failures)
            + ". Fix them and run migrate_schemas again: each schema resumes from the "
            "migrations it has applied."
        )
