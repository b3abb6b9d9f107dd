"""The migrate_schemas engine: plan once, skip what is up to date, run the rest in workers.

1. The migration files are loaded once (:mod:`.loader`).
2. Every schema's applied migrations are read in a handful of queries (:mod:`.applied`).
3. Schemas at the same state form a group with one plan and one set of project states
   (:mod:`.planning`); a group with nothing to do is skipped without touching its schemas.
4. The public schema, if asked for and behind, is migrated first by Django's own
   ``migrate`` (it is one schema, and the only one shared apps create tables in).
5. The template schema, then the tenant schemas, are migrated by workers
   (:mod:`.workers`, :mod:`.runner`); one failing schema does not stop the others. The
   template is migrated under the lock provisioning takes to bring it up to date, with
   its state read again once the lock is held (:mod:`.lock`).
6. Each schema's result is kept in the shared schema (:mod:`.results`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO, Any

from django.core.management.sql import emit_pre_migrate_signal
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from ..audit import record_migrations
from ..conf import tenancy_settings
from ..context import schema_context
from ..exceptions import describe_error
from ..signals import schema_migrated, send_robust
from ..tenant_types import is_typed, read_schema_types, template_schemas
from .applied import SchemaState, read_applied
from .loader import MigrationSet, Target
from .lock import template_lock
from .planning import GroupPlan, plan_group, plan_groups
from .results import Outcome, SchemaResult, record_results
from .runner import RunSettings, SchemaJob
from .workers import default_jobs, run_jobs

OnResult = Callable[[int, SchemaResult], None]
_PUBLIC_FAILED = "Not migrated: the shared (public) schema failed to migrate first."


def _ignore(position: int, result: SchemaResult) -> None:
    pass


class MigrationRun:
    """One run over ``schemas`` (in the order given): read and planned on creation."""

    def __init__(
        self,
        schemas: Sequence[str],
        *,
        using: str = DEFAULT_DB_ALIAS,
        app_label: str | None = None,
        migration_name: str | None = None,
    ) -> None:
        self.schemas = list(dict.fromkeys(schemas))
        self.using = using
        self.app_label = app_label
        self.migration_name = migration_name
        self.migrations = MigrationSet()
        self.migrations.check_conflicts()
        self.targets: list[Target] = self.migrations.targets(app_label, migration_name)
        self.states: dict[str, SchemaState] = read_applied(self.schemas, using=using)
        #: with tenant types, each schema's type (public and unregistered ones left out)
        self.types: dict[str, str] = (
            read_schema_types(self.schemas, using=using) if is_typed() else {}
        )
        self.group_of: dict[str, GroupPlan] = plan_groups(
            self.migrations, self.states, self.targets, self.schemas, self.types
        )

    @property
    def groups(self) -> list[GroupPlan]:
        """The distinct groups, in the order of their first schema."""
        return list({id(group): group for group in self.group_of.values()}.values())

    @property
    def missing(self) -> list[str]:
        return [name for name in self.schemas if not self.states[name].exists]

    @property
    def pending(self) -> bool:
        return bool(self.missing) or any(group.has_work for group in self.groups)

    def _position(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.schemas, start=1)}

    def _settled(self, name: str, *, check: bool) -> SchemaResult | None:
        """The result of a schema that needs no work (or cannot get any), else None."""
        now = timezone.now()
        if not self.states[name].exists:
            return SchemaResult(
                name, Outcome.FAILED, now, now, error=f"The schema {name!r} does not exist."
            )
        unknown_type = self._unknown_type(name)
        if unknown_type is not None:
            return SchemaResult(name, Outcome.FAILED, now, now, error=unknown_type)
        group = self.group_of[name]
        if group.error is not None:
            return SchemaResult(name, Outcome.FAILED, now, now, error=group.error)
        if not group.has_work:
            return SchemaResult(name, Outcome.SKIPPED, now, now)
        if check:
            return SchemaResult(
                name, Outcome.PENDING, now, now, ran=tuple(group.labels), pending=len(group.plan)
            )
        return None

    def _unknown_type(self, name: str) -> str | None:
        """Why a schema cannot be migrated for its type (with tenant types), else None.

        The router gives a schema of an unconfigured type no app: migrating it would
        record every migration as applied while creating nothing.
        """
        if not is_typed() or name == tenancy_settings.PUBLIC_SCHEMA:
            return None
        tenant_type = self.types.get(name)
        if tenant_type is None:
            return f"The schema {name!r} belongs to no tenant, so it has no tenant type."
        if tenant_type not in tenancy_settings.TENANT_TYPES:
            return (
                f"The tenant type {tenant_type!r} of {name!r} is not in "
                "TENANCY['TENANT_TYPES']: configure it, or change the tenant's type."
                if tenant_type
                else f"The tenant {name!r} has no type; TENANCY['TENANT_TYPES'] needs one."
            )
        return None

    def check(self, on_result: OnResult = _ignore) -> list[SchemaResult]:
        """Each schema's state against the targets; changes nothing."""
        position = self._position()
        results = []
        for name in self.schemas:
            result = self._settled(name, check=True)
            assert result is not None
            on_result(position[name], result)
            results.append(result)
        return results

    def execute(
        self,
        *,
        fake: bool = False,
        jobs: int | None = None,
        verbosity: int = 1,
        stdout: IO[str] | Any = None,
        on_result: OnResult = _ignore,
        before_tenants: Callable[[], None] | None = None,
    ) -> list[SchemaResult]:
        """Migrate every schema that is behind; return every schema's result, in order.

        ``before_tenants`` runs after the public schema and before the first other schema
        with work (on Citus: making shared tables reference tables); if it raises, the
        schemas with work are not migrated and their results say why.
        """
        position = self._position()
        by_name: dict[str, SchemaResult] = {}

        def done(name: str, result: SchemaResult) -> None:
            by_name[name] = result
            on_result(position[name], result)
            if schema_migrated.receivers:
                send_robust(
                    schema_migrated, MigrationRun, schema_name=name, result=result, using=self.using
                )

        public = tenancy_settings.PUBLIC_SCHEMA
        templates = template_schemas()
        blocked: str | None = None
        if public in position:
            result = self._settled(public, check=False) or self._migrate_public(
                fake, verbosity, stdout
            )
            if result.outcome is Outcome.FAILED:
                blocked = _PUBLIC_FAILED
            done(public, result)
        work: list[SchemaJob] = []
        for name in self.schemas:
            if name == public:
                continue
            settled = self._settled(name, check=False)
            if settled is None and blocked is None and before_tenants is not None:
                try:
                    before_tenants()
                except Exception as exc:  # reported in each waiting schema's result
                    blocked = f"Not migrated: {describe_error(exc)}"
                before_tenants = None
            if settled is not None:
                done(name, settled)
            elif blocked is not None:
                # Tenant tables may refer to shared ones: never migrate a tenant against
                # a shared schema that is not where its migrations expect it.
                now = timezone.now()
                done(
                    name,
                    SchemaResult(
                        name,
                        Outcome.FAILED,
                        now,
                        now,
                        error=blocked,
                        pending=len(self.group_of[name].plan),
                    ),
                )
            else:
                work.append(SchemaJob(position[name], name, self.states[name], self.group_of[name]))
        settings = RunSettings(using=self.using, fake=fake, verbosity=verbosity)
        pre_migrated: set[int] = set()

        def run(batch: list[SchemaJob]) -> None:
            self._pre_migrate(batch, verbosity, stdout, pre_migrated)
            run_jobs(
                batch,
                settings,
                workers=jobs or default_jobs(),
                on_result=lambda job, result: done(job.schema_name, result),
            )

        for job in [job for job in work if job.schema_name in templates]:
            # Provisioning may be bringing this template up to date right now: take the
            # lock it takes, then migrate what the template still lacks, if anything.
            with template_lock(self.using, job.schema_name):
                replanned = self._replan_template(job)
                if isinstance(replanned, SchemaResult):
                    done(job.schema_name, replanned)
                else:
                    run([replanned])
        run([job for job in work if job.schema_name not in templates])
        results = [by_name[name] for name in self.schemas]
        record_migrations(results, using=self.using, fake=fake)
        return results

    def _replan_template(self, job: SchemaJob) -> SchemaJob | SchemaResult:
        """The template's job for its state now (read under the template lock)."""
        name = job.schema_name
        state = read_applied([name], using=self.using)[name]
        if state == self.states[name]:
            return job
        self.states[name] = state
        if not state.exists:
            return self._settled(name, check=False) or job
        index = max(group.index for group in self.groups) + 1
        group = plan_group(
            self.migrations, state.recorded, self.targets, index, job.group.tenant_type
        )
        group.schemas.append(name)
        self.group_of[name] = group
        return self._settled(name, check=False) or SchemaJob(job.position, name, state, group)

    def _migrate_public(self, fake: bool, verbosity: int, stdout: Any) -> SchemaResult:
        from . import migrate_schema  # the package's public function: Django's migrate

        group = self.group_of[tenancy_settings.PUBLIC_SCHEMA]
        started = timezone.now()
        args = [value for value in (self.app_label, self.migration_name) if value]
        try:
            migrate_schema(
                tenancy_settings.PUBLIC_SCHEMA,
                *args,
                using=self.using,
                verbosity=max(verbosity - 1, 0),
                stdout=stdout,
                fake=fake,
            )
        except Exception as exc:
            return SchemaResult(
                tenancy_settings.PUBLIC_SCHEMA,
                Outcome.FAILED,
                started,
                timezone.now(),
                pending=len(group.plan),
                error=describe_error(exc),
            )
        return SchemaResult(
            tenancy_settings.PUBLIC_SCHEMA,
            Outcome.MIGRATED,
            started,
            timezone.now(),
            ran=tuple(group.labels),
        )

    def _pre_migrate(
        self, work: Sequence[SchemaJob], verbosity: int, stdout: Any, done: set[int]
    ) -> None:
        """pre_migrate once per group, with the group's plan and apps, in its first schema.

        (contenttypes' receiver adds RenameContentType operations to the plan here.)
        ``done`` holds the groups it was sent for, and gets those of ``work``.
        """
        first: dict[int, SchemaJob] = {}
        for job in work:
            if job.group.index not in done:
                first.setdefault(job.group.index, job)
        done.update(first)
        for _, job in sorted(first.items()):
            group = job.group
            if not group.plan or group.pre_state is None:
                continue
            apps = group.pre_state.clone().apps
            with schema_context(job.schema_name):
                emit_pre_migrate_signal(
                    max(verbosity - 1, 0),
                    False,
                    self.using,
                    stdout=stdout,
                    apps=apps,
                    plan=group.plan,
                )


def migrate_schemas(
    schemas: Sequence[str],
    *,
    using: str = DEFAULT_DB_ALIAS,
    app_label: str | None = None,
    migration_name: str | None = None,
    fake: bool = False,
    jobs: int | None = None,
    verbosity: int = 1,
    stdout: IO[str] | Any = None,
    on_result: OnResult = _ignore,
) -> list[SchemaResult]:
    """Migrate ``schemas`` (public first if listed, then template, then the rest) and keep
    each schema's result in the shared schema. Failures are in the results, not raised."""
    run = MigrationRun(schemas, using=using, app_label=app_label, migration_name=migration_name)
    results = run.execute(
        fake=fake, jobs=jobs, verbosity=verbosity, stdout=stdout, on_result=on_result
    )
    record_results(results, using=using)
    return results
