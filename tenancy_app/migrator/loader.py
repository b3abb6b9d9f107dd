"""The migration graph, loaded from disk once per run, seen from any set of applied migrations.

Django's :class:`~django.db.migrations.loader.MigrationLoader` reads the applied
migrations of *one* database from its ``django_migrations`` table. Here the migration
files are imported once (:class:`MigrationSet`), and each group of schemas gets a
loader (:class:`RecordedLoader`) whose applied migrations are the set read for that
group, with Django's own rules for squashed migrations applied to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.migrations.exceptions import AmbiguityError, InconsistentMigrationHistory
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration

from ..exceptions import MigrationConflict, MigrationTargetError

Key = tuple[str, str]
Target = tuple[str, str | None]


class RecordedLoader(MigrationLoader):
    """A MigrationLoader whose applied migrations are a given set, not a database's.

    The migration files come from ``disk`` (already imported); the graph is built by
    Django, and squashed migrations are used or not exactly as Django decides from the
    applied set (all or none of the replaced migrations applied: the squashed one is used).
    """

    def __init__(self, disk: MigrationLoader, recorded: Iterable[Key]) -> None:
        self._disk = disk
        self.recorded = frozenset(recorded)
        super().__init__(None, load=True, ignore_no_migrations=True)

    def load_disk(self) -> None:
        self.disk_migrations = dict(self._disk.disk_migrations)
        self.migrated_apps = set(self._disk.migrated_apps)
        self.unmigrated_apps = set(self._disk.unmigrated_apps)

    def build_graph(self) -> None:
        replace: bool = self.replace_migrations  # type: ignore[has-type]
        self.replace_migrations = False
        try:
            super().build_graph()  # the whole graph; the applied set is ours, below
        finally:
            self.replace_migrations = replace
        applied: dict[Key, Any] = dict.fromkeys(self.recorded)
        if replace:
            # As MigrationLoader.build_graph does with the database's applied set.
            for key, migration in self.replacements.items():
                statuses = [target in applied for target in migration.replaces]
                if all(statuses):
                    applied[key] = migration
                else:
                    applied.pop(key, None)
                if all(statuses) or not any(statuses):
                    self.graph.remove_replaced_nodes(key, migration.replaces)
                else:
                    self.graph.remove_replacement_node(key, migration.replaces)
            self.graph.validate_consistency()
        self.applied_migrations = applied

    def check_consistent_history(self, connection: Any = None) -> None:
        """Raise InconsistentMigrationHistory if an applied migration misses a dependency."""
        applied = self.recorded
        for key in applied:
            if key not in self.graph.nodes:
                continue
            for parent in self.graph.node_map[key].parents:
                if parent in applied:
                    continue
                replacement = self.replacements.get(parent)
                if replacement is not None and all(m in applied for m in replacement.replaces):
                    continue
                raise InconsistentMigrationHistory(
                    f"Migration {key[0]}.{key[1]} is applied before its dependency "
                    f"{parent[0]}.{parent[1]}."
                )


class MigrationSet:
    """The project's migration files, imported once for the whole run."""

    def __init__(self) -> None:
        # No connection: nothing is read from a database here.
        self.disk = MigrationLoader(None, ignore_no_migrations=True)

    def loader_for(self, recorded: Iterable[Key]) -> RecordedLoader:
        return RecordedLoader(self.disk, recorded)

    def check_conflicts(self) -> None:
        conflicts = self.disk.detect_conflicts()
        if conflicts:
            names = "; ".join(f"{', '.join(names)} in {app}" for app, names in conflicts.items())
            raise MigrationConflict(
                f"Conflicting migrations detected; multiple leaf nodes in the migration graph: "
                f"({names}). To fix them run 'python manage.py makemigrations --merge'."
            )

    def targets(self, app_label: str | None, migration_name: str | None) -> list[Target]:
        """The targets of ``migrate [app_label] [migration_name]``, found as Django finds them."""
        loader = self.disk
        if app_label is None:
            return list(loader.graph.leaf_nodes())
        if app_label not in loader.migrated_apps:
            raise MigrationTargetError(f"App {app_label!r} does not have migrations.")
        if migration_name is None:
            return [key for key in loader.graph.leaf_nodes() if key[0] == app_label]
        if migration_name == "zero":
            return [(app_label, None)]
        try:
            migration: Migration = loader.get_migration_by_prefix(app_label, migration_name)
        except AmbiguityError as exc:
            raise MigrationTargetError(
                f"More than one migration matches {migration_name!r} in app {app_label!r}. "
                "Please be more specific."
            ) from exc
        except KeyError as exc:
            raise MigrationTargetError(
                f"Cannot find a migration matching {migration_name!r} from app {app_label!r}."
            ) from exc
        return [(app_label, migration.name)]


def target_in(loader: RecordedLoader, target: Target) -> Target:
    """A target as a group's graph knows it (a partly applied squash: its last replaced one)."""
    if target[1] is None or target in loader.graph.nodes:
        return target
    replacement = loader.replacements.get((target[0], target[1]))
    if replacement is not None:
        last: Key = replacement.replaces[-1]
        return last
    return target
