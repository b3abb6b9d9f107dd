"""Running schema jobs on worker threads, each with its own database connection.

Django gives each thread its own connection and the ContextVar gives each thread its
own active schema, so workers need nothing shared but the job queue and the result
queue. Each worker renders a group's states once (:class:`~.states.StateCache`), takes
jobs in group order, recycles its connection every ``recycle_after`` schemas (a server
session that visited many schemas holds their catalog caches), and closes it when done.

Inside a transaction (a test, or a caller's ``atomic`` block) other connections cannot
see its uncommitted schemas, so the jobs then run one by one on the caller's connection.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence

from django.db import connections

from ..conf import tenancy_settings
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


class _Crash:
    """A worker died of something other than a schema's failure (e.g. KeyboardInterrupt)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def run_jobs(
    jobs: Sequence[SchemaJob],
    settings: RunSettings,
    *,
    workers: int,
    on_result: Callable[[SchemaJob, SchemaResult], None],
) -> None:
    """Run every job, calling ``on_result`` (on the calling thread) as each one ends."""
    if not jobs:
        return
    ordered = sorted(jobs, key=lambda job: (job.group.index, job.position))
    if workers <= 1 or len(ordered) == 1 or connections[settings.using].in_atomic_block:
        worker = _Worker(settings, own_connection=False)
        for job in ordered:
            on_result(job, worker.run(job))
        return

    pending: queue.SimpleQueue[SchemaJob] = queue.SimpleQueue()
    for job in ordered:
        pending.put(job)
    done: queue.SimpleQueue[tuple[SchemaJob, SchemaResult] | _Crash] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        worker = _Worker(settings, own_connection=True)
        try:
            while not stop.is_set():
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    return
                done.put((job, worker.run(job)))
        except BaseException as exc:
            done.put(_Crash(exc))
        finally:
            worker.close()

    threads = [
        threading.Thread(target=work, name=f"migrate_schemas-{n}", daemon=True)
        for n in range(min(workers, len(ordered)))
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in ordered:
            item = done.get()
            if isinstance(item, _Crash):
                raise item.exc
            on_result(*item)
    finally:
        # On an interrupt, workers finish the schema they are in (each is one
        # transaction) and take no other.
        stop.set()
        for thread in threads:
            thread.join()
