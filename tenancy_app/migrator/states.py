"""The rendered project states each operation of a group's plan runs between.

Rendered states hold historical model classes, and some of those carry caches (the
historical ``ContentType`` manager caches rows per database alias), so they are never
shared between threads: each worker renders its own copy of a group's states once
(:class:`StateCache`) and reuses it for every schema of that group it runs. Nothing
that runs per schema mutates them: each operation gets a ``from_state`` and a
``to_state`` of its own, as ``Migration.apply`` / ``Migration.unapply`` build them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps as global_apps
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState, StateApps

from .planning import GroupPlan


@dataclass(frozen=True, slots=True)
class OperationStep:
    operation: Operation
    from_state: ProjectState
    to_state: ProjectState


@dataclass(frozen=True, slots=True)
class MigrationSteps:
    migration: Migration
    backwards: bool
    operations: tuple[OperationStep, ...]


def _rendered(state: ProjectState) -> ProjectState:
    state = state.clone()
    state.apps  # noqa: B018 - render once, before the first schema
    return state


def _forwards(migration: Migration, state: ProjectState) -> tuple[MigrationSteps, ProjectState]:
    """As Migration.apply: each operation from the state before it to the state after it."""
    steps = []
    for operation in migration.operations:
        after = state.clone()
        operation.state_forwards(migration.app_label, after)
        steps.append(OperationStep(operation, state, after))
        state = after
    return MigrationSteps(migration, False, tuple(steps)), state


def _backwards(migration: Migration, state: ProjectState) -> MigrationSteps:
    """As Migration.unapply: the states of each operation, then run in reverse order."""
    steps: list[OperationStep] = []
    new_state = state
    for operation in migration.operations:
        if not operation.reversible:
            raise IrreversibleError(f"Operation {operation} in {migration} is not reversible")
        new_state = new_state.clone()
        old_state = new_state.clone()
        operation.state_forwards(migration.app_label, new_state)
        steps.insert(0, OperationStep(operation, from_state=new_state, to_state=old_state))
    return MigrationSteps(migration, True, tuple(steps))


def render_steps(group: GroupPlan) -> list[MigrationSteps]:
    """Every migration of the group's plan with the rendered states of its operations."""
    if group.backwards:
        return [
            _backwards(migration, _rendered(group.pre_states[migration]))
            for migration, _ in group.plan
        ]
    assert group.pre_state is not None
    state = _rendered(group.pre_state) if group.plan else group.pre_state
    result = []
    for migration, _ in group.plan:
        steps, state = _forwards(migration, state)
        result.append(steps)
    return result


def render_post_apps(group: GroupPlan) -> StateApps:
    """The historical apps post_migrate receivers get, as Django's migrate renders them."""
    assert group.post_state is not None
    state = group.post_state.clone()
    apps = state.apps
    # Models of apps without migrations are rendered again with their relations.
    with apps.bulk_update():
        keys = []
        for model_state in apps.real_models:
            key = model_state.app_label, model_state.name_lower
            keys.append(key)
            apps.unregister_model(*key)
    apps.render_multiple([ModelState.from_model(global_apps.get_model(*key)) for key in keys])
    return apps


class StateCache:
    """One worker's rendered states of the group it is working on (one group at a time)."""

    def __init__(self) -> None:
        self._group: GroupPlan | None = None
        self._steps: list[MigrationSteps] | None = None
        self._post_apps: StateApps | None = None

    def _switch(self, group: GroupPlan) -> None:
        if self._group is not group:
            self._group, self._steps, self._post_apps = group, None, None

    def steps(self, group: GroupPlan) -> list[MigrationSteps]:
        self._switch(group)
        if self._steps is None:
            self._steps = render_steps(group)
        return self._steps

    def post_apps(self, group: GroupPlan) -> StateApps:
        self._switch(group)
        if self._post_apps is None:
            self._post_apps = render_post_apps(group)
        return self._post_apps
