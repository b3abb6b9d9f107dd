"""Work per schema on worker threads, each with its own database connection.

One mechanism for ``migrate_schemas`` (:mod:`tenancy_app.migrator.workers`) and
``tenant_command --jobs`` (:mod:`tenancy_app.management.commands.tenant_command`).
Django gives each thread its own connections and the ContextVar gives each thread its
own active schema, so workers share nothing but a queue of items and a queue of results.
Results reach the calling thread as each item ends, so a command prints them as they
come; on an interrupt every worker finishes the item it is on and takes no other.
Inside a transaction (a test, a caller's ``atomic`` block) other connections cannot see
its uncommitted rows, so the items then run one by one on the caller's thread and
connection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

Item = TypeVar("Item")
Result = TypeVar("Result")
Item_contra = TypeVar("Item_contra", contravariant=True)
Result_co = TypeVar("Result_co", covariant=True)


class Worker(Protocol[Item_contra, Result_co]):
    """What one thread does: ``run`` each item it takes, then ``close`` (its connection)."""

    def run(self, item: Item_contra) -> Result_co: ...

    def close(self) -> None: ...


class FunctionWorker(Generic[Item, Result]):
    """A worker that calls one function and closes the thread's connections at the end."""

    def __init__(self, function: Callable[[Item], Result], *, own_connection: bool) -> None:
        self.function = function
        self.own_connection = own_connection

    def run(self, item: Item) -> Result:
        return self.function(item)

    def close(self) -> None:
        if self.own_connection:
            connections.close_all()  # this thread's connections only


class _Crash:
    """A worker died of something its ``run`` did not turn into a result (an interrupt)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def run_each(
    items: Sequence[Item],
    make_worker: Callable[[bool], Worker[Item, Result]],
    *,
    workers: int,
    on_done: Callable[[Item, Result], None],
    using: str = DEFAULT_DB_ALIAS,
    name: str = "tenancy-worker",
) -> None:
    """Run every item on up to ``workers`` threads; ``on_done(item, result)`` runs on the
    calling thread as each ends (in order with one worker).

    ``make_worker(own_connection)`` makes each thread's worker; ``own_connection`` is
    false when the items run on the caller's thread (and connection). A worker reports
    failures in its results: whatever ``run`` raises stops the run.
    """
    if not items:
        return
    if workers <= 1 or len(items) == 1 or connections[using].in_atomic_block:
        worker = make_worker(False)
        try:
            for item in items:
                on_done(item, worker.run(item))
        finally:
            worker.close()
        return
    pending: queue.SimpleQueue[Item] = queue.SimpleQueue()
    for item in items:
        pending.put(item)
    done: queue.SimpleQueue[tuple[Item, Result] | _Crash] = queue.SimpleQueue()
    stop = threading.Event()

    def thread_main() -> None:
        worker = make_worker(True)
        try:
            while not stop.is_set():
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    return
                done.put((item, worker.run(item)))
        except BaseException as exc:
            done.put(_Crash(exc))
        finally:
            worker.close()

    threads = [
        threading.Thread(target=thread_main, name=f"{name}-{number}", daemon=True)
        for number in range(min(workers, len(items)))
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in items:
            outcome = done.get()
            if isinstance(outcome, _Crash):
                raise outcome.exc
            on_done(*outcome)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
