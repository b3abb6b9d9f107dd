"""The database work of one schema: its group's plan, run with precomputed states.

Per schema only this remains: inside ``schema_context(schema)``, each operation's
``database_forwards`` / ``database_backwards`` with the group's states, the rows of the
schema's own ``django_migrations``, and post_migrate receivers for the apps that changed.

Transactions: consecutive atomic migrations run in one transaction (one schema editor),
so a failure rolls back everything the run did in that schema, ``django_migrations``
rows and post_migrate rows included. A migration with ``atomic = False`` runs on its own,
outside a transaction, as Django runs it; what ran before it stays applied.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps as global_apps
from django.db import connections, models, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations import RunPython, RunSQL
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from psycopg import sql

from ..context import schema_context
from ..exceptions import PlanningFailed, describe_error
from .applied import SchemaState
from .loader import Key
from .planning import GroupPlan, recorded_rows
from .results import Outcome, SchemaResult
from .states import MigrationSteps, StateCache


@dataclass(frozen=True, slots=True)
class SchemaJob:
    position: int
    schema_name: str
    state: SchemaState
    group: GroupPlan


@dataclass(frozen=True, slots=True)
class RunSettings:
    using: str
    fake: bool = False
    verbosity: int = 1


def _segments(steps: Sequence[MigrationSteps], *, all_atomic: bool) -> list[list[MigrationSteps]]:
    """Runs of atomic migrations together; each non-atomic migration alone."""
    segments: list[list[MigrationSteps]] = []
    for step in steps:
        if segments and (
            all_atomic or (step.migration.atomic and segments[-1][-1].migration.atomic)
        ):
            segments[-1].append(step)
        else:
            segments.append([step])
    return segments or [[]]


def _run_operations(step: MigrationSteps, editor: BaseDatabaseSchemaEditor, using: str) -> None:
    migration = step.migration
    for op in step.operations:
        operation = op.operation
        atomic_operation = operation.atomic or (migration.atomic and operation.atomic is not False)
        run = operation.database_backwards if step.backwards else operation.database_forwards
        if not editor.atomic_migration and atomic_operation:
            # As Migration.apply: an atomic operation of a non-atomic migration.
            with transaction.atomic(using):
                run(migration.app_label, editor, op.from_state, op.to_state)
        else:
            run(migration.app_label, editor, op.from_state, op.to_state)


def _flush_deferred(editor: BaseDatabaseSchemaEditor) -> None:
    """Run the SQL the schema editor defers, as it does when a migration's editor closes."""
    for statement in editor.deferred_sql:
        editor.execute(statement, None)
    editor.deferred_sql = []


def _changes_rows(step: MigrationSteps) -> bool:
    return any(isinstance(op.operation, RunPython | RunSQL) for op in step.operations)


def _check_deferred_constraints(using: str) -> None:
    """Check deferred constraints now, as the end of the migration's own transaction would.

    Rows changed by a data migration leave deferred trigger events behind, and PostgreSQL
    refuses an ALTER TABLE of such a table later in the same transaction.
    """
    with connections[using].cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _record(using: str, schema: str, applied: Sequence[Key], unapplied: Sequence[Key]) -> None:
    table = sql.Identifier(schema, MigrationRecorder.Migration._meta.db_table)
    with connections[using].cursor() as cursor:
        if unapplied:
            pairs = sql.SQL(", ").join(sql.SQL("(%s, %s)") for _ in unapplied)
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE (app, name) IN ({})").format(table, pairs),
                [part for key in unapplied for part in key],
            )
        if applied:
            now = timezone.now()
            rows = sql.SQL(", ").join(sql.SQL("(%s, %s, %s)") for _ in applied)
            cursor.execute(
                sql.SQL("INSERT INTO {} (app, name, applied) VALUES {}").format(table, rows),
                [part for app, name in applied for part in (app, name, now)],
            )


def _post_migrate(job: SchemaJob, cache: StateCache, settings: RunSettings, out: Any) -> None:
    """post_migrate for the apps whose migrations ran, with this run's apps and plan."""
    group = job.group
    changed = group.changed
    if not changed:
        return
    apps = cache.post_apps(group)
    try:
        content_type = apps.get_model("contenttypes", "ContentType")
    except LookupError:
        pass
    else:
        # Its manager caches rows per database alias: they belong to the previous schema.
        content_type._default_manager.clear_cache()
    for app_config in global_apps.get_app_configs():
        if app_config.models_module is None or app_config.label not in changed:
            continue
        models.signals.post_migrate.send(
            sender=app_config,
            app_config=app_config,
            verbosity=max(settings.verbosity - 1, 0),
            interactive=False,
            using=settings.using,
            stdout=out,
            apps=apps,
            plan=group.plan,
        )


def _migrate(
    job: SchemaJob, cache: StateCache, settings: RunSettings, ran: list[str], out: Any
) -> None:
    group = job.group
    using = settings.using
    connection = connections[using]
    if group.error is not None:
        raise PlanningFailed(group.error)
    if settings.fake:
        steps = [MigrationSteps(m, backwards, ()) for m, backwards in group.plan]
    else:
        steps = cache.steps(group)
    # Inside a transaction already (a test, a caller's atomic block) everything runs in it.
    in_transaction = connection.in_atomic_block
    segments = _segments(steps, all_atomic=in_transaction)
    needs_table = not job.state.has_table
    for number, segment in enumerate(segments):
        last = number == len(segments) - 1
        atomic = in_transaction or all(step.migration.atomic for step in segment)
        with connection.schema_editor(atomic=atomic) as editor:
            if needs_table:
                editor.create_model(MigrationRecorder.Migration)
                _flush_deferred(editor)
                needs_table = False
            for index, step in enumerate(segment):
                if not settings.fake:
                    _run_operations(step, editor, using)
                    _flush_deferred(editor)
                    if atomic and index < len(segment) - 1 and _changes_rows(step):
                        _check_deferred_constraints(using)
            applied, unapplied = recorded_rows((s.migration, s.backwards) for s in segment)
            if last:
                applied += group.record_squashed
            _record(using, job.schema_name, applied, unapplied)
            if last and atomic:
                _post_migrate(job, cache, settings, out)
        ran.extend(str(step.migration) for step in segment)
        if last and not atomic:
            _post_migrate(job, cache, settings, out)


def run_schema(job: SchemaJob, cache: StateCache, settings: RunSettings) -> SchemaResult:
    """Bring one schema to its group's target; a failure is returned, never raised."""
    started = timezone.now()
    ran: list[str] = []
    out = io.StringIO()
    try:
        with schema_context(job.schema_name):
            _migrate(job, cache, settings, ran, out)
    except Exception as exc:
        connection = connections[settings.using]
        if (
            connection.connection is not None
            and not connection.in_atomic_block
            and not connection.is_usable()
        ):
            connection.close()
        return SchemaResult(
            job.schema_name,
            Outcome.FAILED,
            started,
            timezone.now(),
            ran=tuple(ran),
            pending=len(job.group.plan) - len(ran),
            error=describe_error(exc),
            output=out.getvalue(),
        )
    return SchemaResult(
        job.schema_name,
        Outcome.MIGRATED,
        started,
        timezone.now(),
        ran=tuple(ran),
        output=out.getvalue(),
    )
