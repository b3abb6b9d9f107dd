"""Running schema jobs on worker threads (:mod:`tenancy_app.parallel`).

Each worker renders a group's states once (:class:`~.states.StateCache`), takes jobs in
group order, recycles its connection every ``recycle_after`` schemas (a server session
that visited many schemas holds their catalog caches), and closes it when done.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from django.db import connections

from ..conf import tenancy_settings
from ..parallel import run_each
from .results import SchemaResult
from .runner import RunSettings, SchemaJob, run_schema
from .states import StateCache

#: Schemas a worker's connection visits before it is closed and opened afresh, unless
#: ``TENANCY["MAX_SCHEMAS_PER_CONNECTION"]`` says otherwise.
DEFAULT_RECYCLE_AFTER = 200


def default_jobs() -> int:
    """Worker threads by default: the CPU count, at most 4 (the server needs CPU too)."""
    return max(1, min(4, os.cpu_count() or 1))


def recycle_after() -> int:
    return tenancy_settings.MAX_SCHEMAS_PER_CONNECTION or DEFAULT_RECYCLE_AFTER


class _Worker:
    def __init__(self, settings: RunSettings, *, own_connection: bool) -> None:
        self.settings = settings
        self.cache = StateCache()
        self.own_connection = own_connection
        self.visited = 0
        self.limit = recycle_after()

    def run(self, job: SchemaJob) -> SchemaResult:
        result = run_schema(job, self.cache, self.settings)
        self.visited += 1
        connection = connections[self.settings.using]
        if self.visited >= self.limit and not connection.in_atomic_block:
            connection.close()
            self.visited = 0
        return result

    def close(self) -> None:
        if self.own_connection:
            connections[self.settings.using].close()


def run_jobs(
    jobs: Sequence[SchemaJob],
    settings: RunSettings,
    *,
    workers: int,
    on_result: Callable[[SchemaJob, SchemaResult], None],
) -> None:
    """Run every job, calling ``on_result`` (on the calling thread) as each one ends."""
    ordered = sorted(jobs, key=lambda job: (job.group.index, job.position))
    run_each(
        ordered,
        lambda own_connection: _Worker(settings, own_connection=own_connection),
        workers=workers,
        on_done=on_result,
        using=settings.using,
        name="migrate_schemas",
    )
