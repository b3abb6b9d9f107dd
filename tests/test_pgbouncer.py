"""Many clients on different tenants through one real PgBouncer in transaction pooling mode.

PgBouncer hands each transaction whichever server session is free, so a session-level
``SET search_path`` leaks to the next client. With ``SEARCH_PATH_SCOPE = "transaction"``
every transaction carries its own ``SET LOCAL``; a rogue client keeps poisoning server
sessions with a session-level SET, and no client of ours may ever read the wrong schema.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connections, transaction
from django.test.utils import override_settings

from tenancy_app import schema_context
from tenancy_app.backends.postgresql.base import DatabaseWrapper
from tests.servers import (
    SCRATCH_ROWS,
    create_scratch_database,
    default_server_params,
    drop_database,
    pgbouncer_in_front,
)

CLIENTS = 6
ROUNDS = 40
ORDER = ["a", "a", "b", "public", "b", "a", "public", "public"]


@pytest.fixture(scope="module")
def bouncer(django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """A scratch database behind PgBouncer (transaction mode, 2 server sessions)."""
    with django_db_blocker.unblock():
        params = default_server_params()
        scratch = create_scratch_database(params, "tenancy_pgbouncer")
        try:
            with pgbouncer_in_front(params, "tenancy_pgbouncer", pool_size=2) as (host, port):
                yield {**scratch, "host": host, "port": port}
        finally:
            drop_database(params, "tenancy_pgbouncer")


def make_wrapper(server: dict[str, Any], alias: str) -> DatabaseWrapper:
    wrapper = DatabaseWrapper(
        {
            "ENGINE": "tenancy_app.backends.postgresql",
            "NAME": server["dbname"],
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": server["host"],
            "PORT": str(server["port"]),
            "OPTIONS": {},
            "CONN_MAX_AGE": None,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
            "TIME_ZONE": None,
            "TEST": {},
            "DISABLE_SERVER_SIDE_CURSORS": True,
        },
        alias=alias,
    )
    connections[alias] = wrapper
    return wrapper


def count(wrapper: DatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        return int(cursor.fetchone()[0])


def run_clients(server: dict[str, Any]) -> tuple[list[str], int]:
    """Clients alternating schemas (autocommit and in transactions) beside a rogue client."""
    wrong: list[str] = []
    stop = threading.Event()
    poisoned = 0

    def rogue() -> None:
        nonlocal poisoned
        kwargs = {k: v for k, v in server.items() if k in ("host", "port", "user", "dbname")}
        # prepare_threshold=None: PgBouncer 1.18 cannot pool prepared statements.
        with psycopg.connect(**kwargs, autocommit=True, prepare_threshold=None) as conn:
            while not stop.is_set():
                conn.execute("SET search_path TO b, public")
                poisoned += 1
                time.sleep(0.001)

    def client(number: int) -> None:
        alias = f"bouncer{number}"
        db = make_wrapper(server, alias)
        try:
            for round_ in range(ROUNDS):
                schema = ORDER[(number + round_) % len(ORDER)]
                with schema_context(schema):
                    seen = count(db)
                if seen != SCRATCH_ROWS[schema]:
                    wrong.append(f"{schema}: {seen}")
                if round_ % 4 == 0:
                    with transaction.atomic(using=alias):
                        for inner in (schema, "a", schema):
                            with schema_context(inner):
                                seen = count(db)
                            if seen != SCRATCH_ROWS[inner]:
                                wrong.append(f"{inner} (in a transaction): {seen}")
        finally:
            db.close()
            del connections[alias]

    rogue_thread = threading.Thread(target=rogue)
    rogue_thread.start()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    rogue_thread.join()
    return wrong, poisoned


@override_settings(TENANCY={"SEARCH_PATH_SCOPE": "transaction"})
def test_transaction_scope_never_reads_another_schema(bouncer: dict[str, Any]) -> None:
    wrong, poisoned = run_clients(bouncer)
    assert poisoned > 0
    assert wrong == []


@override_settings(TENANCY={"SEARCH_PATH_SCOPE": "session"})
def test_session_scope_behind_a_transaction_pooler_does_leak(bouncer: dict[str, Any]) -> None:
    """The control: the same traffic with the session scope reads wrong schemas."""
    wrong, poisoned = run_clients(bouncer)
    assert poisoned > 0
    assert wrong != []
