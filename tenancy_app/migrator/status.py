"""How many migrations each schema still lacks, now: for showing, not for planning.

The engine records each run's result; a deploy that adds migration files makes those
results stale until the next run. :func:`pending_counts` compares what the schemas have
recorded (read in a handful of queries, :mod:`.applied`) with the migration graph on
disk, which is loaded once per process (migration files do not change under a running
process: a deploy restarts it).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS
from django.db.migrations.loader import MigrationLoader

from .applied import read_applied
from .loader import Key


@lru_cache(maxsize=1)
def _graph() -> tuple[frozenset[Key], dict[Key, tuple[Key, ...]]]:
    """Every migration a schema ends up with, and the squashed ones' replaced names."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    replacements = {key: tuple(m.replaces) for key, m in loader.replacements.items()}
    return frozenset(loader.graph.nodes), replacements


def pending_counts(schemas: Sequence[str], *, using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """For each existing schema of ``schemas``, the migrations on disk it has not applied.

    A squashed migration counts as applied when all the migrations it replaces are.
    Missing schemas are left out. Costs two queries whatever the number of schemas (up to
    500 per query).
    """
    nodes, replacements = _graph()
    counts: dict[str, int] = {}
    by_set: dict[frozenset[Key], int] = {}
    for name, state in read_applied(schemas, using=using).items():
        if not state.exists:
            continue
        count = by_set.get(state.recorded)
        if count is None:
            count = by_set[state.recorded] = sum(
                1
                for key in nodes
                if key not in state.recorded
                and not (
                    key in replacements and all(r in state.recorded for r in replacements[key])
                )
            )
        counts[name] = count
    return counts
