"""One migrate_schemas run at a time per database; one writer of the template at a time.

Two deploys migrating at once would race on the same schemas (and, with the leading
library, deadlock). A run holds a session advisory lock on a connection of its own for
its whole length; a second run waits for it (then finds only what is still pending) or,
with ``nowait``, fails at once. Over PgBouncer in transaction pooling mode advisory
session locks do not hold: migrate over a direct connection.

The template schema has two writers: the engine, and provisioning bringing it up to date
before a sign-up copies it (:mod:`tenancy_app.template_schema`). Both take the template
lock first and read the template's state only once they hold it, so the first migrates
it and the other waits, then finds it done and uses it.
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


def _template_lock_name(template: str) -> str:
    return f"tenancy_app template {template}"


def lock_template_in_transaction(using: str, template: str) -> None:
    """Take the lock of the template schema ``template`` until the current transaction of
    ``using`` ends."""
    connection = connections[using]
    assert connection.in_atomic_block, "the template lock is held to the transaction's end"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(%s, 0))",
            [_template_lock_name(template)],
        )


@contextmanager
def template_lock(using: str, template: str) -> Iterator[None]:
    """Hold the lock of the template schema ``template`` for the block (the engine,
    migrating it).

    Held on a connection of its own, so that the migration's own transactions and
    connection recycling cannot release it early; inside a caller's transaction (a test,
    an ``atomic`` block) it is taken by that transaction instead, which may already hold
    it (provisioning in the same transaction) and would otherwise wait for itself.
    """
    if connections[using].in_atomic_block:
        lock_template_in_transaction(using, template)
        yield
        return
    params = connections[using].get_connection_params()
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(_LOCK, [_template_lock_name(template)])
        try:
            yield
        finally:
            conn.execute(_UNLOCK, [_template_lock_name(template)])
