"""Running one piece of work per tenant on worker threads, each with its own connections.

Django gives each thread its own database connections and the ContextVar gives each
thread its own active tenant, so workers share nothing but a queue of items and a queue
of results. Results reach the calling thread as each item ends, so a command prints
them as they come; an interrupt lets every worker finish the item it is on and take no
other. Inside a transaction (a test, a caller's ``atomic`` block) other connections
cannot see its uncommitted rows, so the items then run one by one on this thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Crash:
    """A worker died of something ``work`` did not turn into a result (an interrupt)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def run_each(
    items: Sequence[Item],
    work: Callable[[Item], Result],
    *,
    workers: int,
    on_done: Callable[[Item, Result], None],
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Call ``work(item)`` for every item on up to ``workers`` threads; ``on_done(item,
    result)`` runs on the calling thread as each ends (in order with one worker).

    ``work`` reports failures in its result: whatever it raises stops the run.
    """
    if workers <= 1 or len(items) <= 1 or connections[using].in_atomic_block:
        for item in items:
            on_done(item, work(item))
        return
    pending: queue.SimpleQueue[Item] = queue.SimpleQueue()
    for item in items:
        pending.put(item)
    done: queue.SimpleQueue[tuple[Item, Result] | _Crash] = queue.SimpleQueue()
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.is_set():
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    return
                done.put((item, work(item)))
        except BaseException as exc:
            done.put(_Crash(exc))
        finally:
            connections.close_all()  # this thread's connections only

    threads = [
        threading.Thread(target=worker, name=f"tenancy-worker-{number}", daemon=True)
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
