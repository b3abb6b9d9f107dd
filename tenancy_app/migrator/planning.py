"""One plan per group of schemas at the same migration state.

Schemas that have applied the same migrations need the same migrations next, in the
same order, from the same project states. So the plan (Django's
``MigrationExecutor.migration_plan``) and the states around it (before and after the
run, and before each migration that goes backwards) are computed once per group; the
states stay unrendered here and are rendered by each worker (:mod:`.states`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db.migrations.exceptions import InvalidMigrationPlan
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration
from django.db.migrations.state import ProjectState

from ..exceptions import describe_error
from .applied import SchemaState
from .loader import Key, MigrationSet, RecordedLoader, Target, target_in

PlanItem = tuple[Migration, bool]


class PlanningExecutor(MigrationExecutor):
    """Django's executor for its planning methods only: no connection, no recorder."""

    def __init__(self, loader: RecordedLoader) -> None:
        self.loader = loader
        self.progress_callback = None


def key_of(migration: Migration) -> Key:
    return (migration.app_label, migration.name)


def recorded_rows(plan: Iterable[tuple[Migration, bool]]) -> tuple[list[Key], list[Key]]:
    """The django_migrations rows a plan of (migration, backwards) writes and deletes.

    As Django's MigrationExecutor records them: applying a squashed migration records the
    migrations it replaces; unapplying one deletes those and its own row.
    """
    applied: list[Key] = []
    unapplied: list[Key] = []
    for migration, backwards in plan:
        if backwards:
            unapplied.extend([*migration.replaces, key_of(migration)])
        else:
            applied.extend(migration.replaces or [key_of(migration)])
    return applied, unapplied


def _state_with(
    loader: RecordedLoader, full_plan: Sequence[PlanItem], applied: set[Key]
) -> ProjectState:
    """The project state after the ``applied`` migrations, unrendered."""
    state = ProjectState(real_apps=loader.unmigrated_apps)
    for migration, _ in full_plan:
        if key_of(migration) in applied:
            migration.mutate_state(state, preserve=False)
    return state


#: Model options post_migrate receivers do not look at (they change no model's identity).
_SCHEMA_ONLY_OPTIONS = frozenset({"indexes", "constraints", "db_table_comment"})


def _models_seen_by_receivers(state: ProjectState, app_label: str) -> dict[str, dict[str, object]]:
    return {
        name: {k: v for k, v in model.options.items() if k not in _SCHEMA_ONLY_OPTIONS}
        for (label, name), model in state.models.items()
        if label == app_label
    }


def _own_copy(migration: Migration) -> Migration:
    """A copy with its own operations list: pre_migrate receivers (contenttypes) insert
    operations into the plan's migrations, and each group gets its own."""
    duplicate = copy.copy(migration)
    duplicate.operations = list(migration.operations)  # type: ignore[misc]
    return duplicate


@dataclass(eq=False)
class GroupPlan:
    """What every schema of one group (same applied migrations) has to do."""

    index: int
    recorded: frozenset[Key]
    #: with tenant types, the type of every schema of the group ("" for public)
    tenant_type: str = ""
    schemas: list[str] = field(default_factory=list)
    plan: list[PlanItem] = field(default_factory=list)
    backwards: bool = False
    #: before the run (pre_migrate), and so before the first migration going forwards
    pre_state: ProjectState | None = None
    #: before each migration going backwards
    pre_states: dict[Migration, ProjectState] = field(default_factory=dict)
    #: after the run (post_migrate)
    post_state: ProjectState | None = None
    #: squashed migrations to record as applied because all they replace is
    record_squashed: list[Key] = field(default_factory=list)
    #: apps post_migrate is sent for (see _changed_apps)
    changed: frozenset[str] = frozenset()
    #: the planning error that fails every schema of the group
    error: str | None = None

    @property
    def has_work(self) -> bool:
        return bool(self.plan or self.record_squashed) or self.error is not None

    @property
    def labels(self) -> list[str]:
        return [str(migration) for migration, _ in self.plan]

    def rows_applied(self) -> list[Key]:
        return recorded_rows(self.plan)[0] + self.record_squashed

    def rows_unapplied(self) -> list[Key]:
        return recorded_rows(self.plan)[1]


def _changed_apps(group: GroupPlan) -> frozenset[str]:
    """Apps whose models the run adds, removes, renames or changes the options of.

    post_migrate is sent for these only: content types and permissions (and the rows
    other receivers make) follow models and their options, not fields, indexes or data
    migrations. A schema migrated from scratch changes every app with models.
    """
    assert group.pre_state is not None and group.post_state is not None
    apps = {migration.app_label for migration, _ in group.plan}
    return frozenset(
        app
        for app in apps
        if _models_seen_by_receivers(group.pre_state, app)
        != _models_seen_by_receivers(group.post_state, app)
    )


def plan_group(
    migrations: MigrationSet,
    recorded: frozenset[Key],
    targets: Sequence[Target],
    index: int,
    tenant_type: str = "",
) -> GroupPlan:
    """The plan and states of schemas that have applied ``recorded``."""
    group = GroupPlan(index=index, recorded=recorded, tenant_type=tenant_type)
    try:
        loader = migrations.loader_for(recorded)
        loader.check_consistent_history()
        executor = PlanningExecutor(loader)
        plan = executor.migration_plan([target_in(loader, target) for target in targets])
        full_plan = executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True)
        directions = {backwards for _, backwards in plan}
        if len(directions) > 1:
            raise InvalidMigrationPlan(
                "Migration plans with both forwards and backwards migrations are not "
                "supported. Please split your migration process into separate plans of "
                "only forwards OR backwards migrations.",
                plan,
            )
        group.backwards = directions == {True}
        if not group.backwards:
            position = {key_of(m): i for i, (m, _) in enumerate(full_plan)}
            plan = sorted(plan, key=lambda item: position[key_of(item[0])])
        group.plan = [(_own_copy(migration), backwards) for migration, backwards in plan]
        _compute_states(group, loader, full_plan)
        group.changed = _changed_apps(group)
    except Exception as exc:
        group.plan = []
        group.error = describe_error(exc)
    return group


def _compute_states(
    group: GroupPlan, loader: RecordedLoader, full_plan: Sequence[PlanItem]
) -> None:
    applied = set(loader.applied_migrations)
    group.pre_state = _state_with(loader, full_plan, applied)
    keys = {key_of(migration) for migration, _ in group.plan}
    after = applied - keys if group.backwards else applied | keys
    group.post_state = _state_with(loader, full_plan, after)
    if group.backwards:
        # As MigrationExecutor._migrate_all_backwards: the state before each migration.
        to_run = set(keys)
        state = ProjectState(real_apps=loader.unmigrated_apps)
        by_key = {key_of(migration): migration for migration, _ in group.plan}
        for migration, _ in full_plan:
            if not to_run:
                break
            key = key_of(migration)
            if key in to_run:
                group.pre_states[by_key[key]] = state
                state = migration.mutate_state(state, preserve=True)
                to_run.remove(key)
            elif key in applied:
                migration.mutate_state(state, preserve=False)
    # As MigrationExecutor.check_replacements, on the rows the schema will have.
    rows = (set(group.recorded) | set(group.rows_applied())) - set(group.rows_unapplied())
    group.record_squashed = sorted(
        key
        for key, migration in loader.replacements.items()
        if key not in rows and all(replaced in rows for replaced in migration.replaces)
    )


def plan_groups(
    migrations: MigrationSet,
    states: Mapping[str, SchemaState],
    targets: Sequence[Target],
    order: Iterable[str],
    types: Mapping[str, str] | None = None,
) -> dict[str, GroupPlan]:
    """The group plan of each existing schema (schemas in ``order``; groups share plans).

    With ``types`` (schema -> tenant type), schemas of different types are in different
    groups even at the same state: their apps differ, and so does what the plan does.
    """
    groups: dict[tuple[str, frozenset[Key]], GroupPlan] = {}
    by_schema: dict[str, GroupPlan] = {}
    for name in order:
        state = states[name]
        if not state.exists:
            continue
        tenant_type = (types or {}).get(name, "")
        key = (tenant_type, state.recorded)
        group = groups.get(key)
        if group is None:
            group = groups[key] = plan_group(
                migrations, state.recorded, targets, index=len(groups), tenant_type=tenant_type
            )
        group.schemas.append(name)
        by_schema[name] = group
    return by_schema
