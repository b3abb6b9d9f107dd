"""One migrate_schemas run at a time per database.

Two deploys migrating at once would race on the same schemas (and, with the leading
library, deadlock). A run holds a session advisory lock on a connection of its own for
its whole length; a second run waits for it (then finds only what is still pending) or,
with ``nowait``, fails at once. Over PgBouncer in transaction pooling mode advisory
session locks do not hold: migrate over a direct connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from django.db import connections

from ..exceptions import MigrationRunInProgress

LOCK_NAME = "tenancy_app.migrate_schemas"
_TRY_LOCK = "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtextextended(%s, 0))"
_LOCK = "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtextextended(%s, 0))"
_UNLOCK = "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtextextended(%s, 0))"


@contextmanager
def exclusive_run(
    using: str, *, nowait: bool = False, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    params = connections[using].get_connection_params()
    with psycopg.connect(**params, autocommit=True) as conn:
        row = conn.execute(_TRY_LOCK, [LOCK_NAME])
        if not row.fetchone()[0]:  # type: ignore[index]
            if nowait:
                raise MigrationRunInProgress(
                    "Another migrate_schemas run is in progress on this database; "
                    "run again when it has finished (or without --nowait to wait for it)."
                )
            if on_wait is not None:
                on_wait()
            conn.execute(_LOCK, [LOCK_NAME])
        try:
            yield
        finally:
            conn.execute(_UNLOCK, [LOCK_NAME])
