"""The search_path backend on real servers: PostgreSQL 18 (reports search_path) and 15 (not).

Each test runs on a scratch database with schemas ``a`` (1 row), ``b`` (2 rows) and the
public schema (3 rows) all holding a table ``t``, so a count tells which schema answered.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from psycopg import pq

from tenancy_app import public_context, schema_context
from tenancy_app.backends.postgresql.base import DatabaseWrapper
from tenancy_app.testing import count_round_trips
from tests.servers import (
    SCRATCH_ROWS,
    create_scratch_database,
    default_server_params,
    drop_database,
    pg15_server,
    require_pg15,
)

ROWS = SCRATCH_ROWS
# Django 6.1 renamed transaction.savepoint() to savepoint_create().
savepoint = getattr(transaction, "savepoint_create", None) or transaction.savepoint
_aliases = itertools.count()


@pytest.fixture(scope="module", params=["pg18", "pg15"])
def server(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Connect kwargs of a scratch database filled with schemas a, b and public."""
    if request.param == "pg15":
        require_pg15()
    with django_db_blocker.unblock(), contextlib.ExitStack() as stack:
        if request.param == "pg15":
            params = stack.enter_context(pg15_server())
        else:
            params = default_server_params()
        name = f"tenancy_backend_{request.param}"
        yield {**create_scratch_database(params, name), "version": request.param}
        drop_database(params, name)


MakeWrapper = Callable[..., DatabaseWrapper]


@pytest.fixture
def make_wrapper(server: dict[str, Any], django_db_blocker: Any) -> Iterator[MakeWrapper]:
    """Our DatabaseWrapper on the scratch database, registered in ``connections``."""
    made: list[DatabaseWrapper] = []

    def make(alias: str | None = None, **overrides: Any) -> DatabaseWrapper:
        alias = alias or f"scratch{next(_aliases)}"
        settings_dict = {
            "ENGINE": "tenancy_app.backends.postgresql",
            "NAME": server["dbname"],
            "USER": server["user"],
            "PASSWORD": server.get("password", ""),
            "HOST": server["host"],
            "PORT": str(server["port"]),
            "OPTIONS": {},
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
            "TIME_ZONE": None,
            "TEST": {},
            **overrides,
        }
        wrapper = DatabaseWrapper(settings_dict, alias=alias)
        connections[alias] = wrapper
        made.append(wrapper)
        return wrapper

    with django_db_blocker.unblock():
        yield make
        for wrapper in made:
            wrapper.close()
            wrapper.close_pool()
            del connections[wrapper.alias]


def count(wrapper: DatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        return int(cursor.fetchone()[0])


def sets(queries: CaptureQueriesContext) -> int:
    return sum(
        1 for query in queries.captured_queries if query["sql"].startswith("SET search_path")
    )


def server_search_path(wrapper: DatabaseWrapper) -> str:
    """Ask the server itself, bypassing the backend."""
    with wrapper.connection.cursor() as cursor:
        return str(cursor.execute("SHOW search_path").fetchone()[0])


def test_each_context_reads_its_own_schema(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    for schema in ("a", "b", "a", "public", "b"):
        with schema_context(schema):
            assert count(db) == ROWS[schema]


def test_set_is_sent_only_when_the_schema_changes(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with schema_context("a"):
        count(db)
    with CaptureQueriesContext(db) as queries, schema_context("a"):
        count(db)
        count(db)
    assert sets(queries) == 0
    assert len(queries) == 2
    with CaptureQueriesContext(db) as queries, schema_context("b"):
        count(db)
        count(db)
    assert sets(queries) == 1
    assert len(queries) == 3


def test_tenant_path_reaches_shared_tables_but_tenant_tables_win(
    make_wrapper: MakeWrapper,
) -> None:
    db = make_wrapper()
    with schema_context("a"):
        assert count(db) == ROWS["a"]
        assert server_search_path(db) == "a, public"
        with db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM public.t")
            assert cursor.fetchone()[0] == ROWS["public"]
    with schema_context("a", include_public=False):
        assert count(db) == ROWS["a"]
        assert server_search_path(db) == "a"


def test_rollback_of_the_transaction_that_set_the_path(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with public_context():
        assert count(db) == ROWS["public"]
    with pytest.raises(ZeroDivisionError), transaction.atomic(using=db.alias):
        with schema_context("a"):
            assert count(db) == ROWS["a"]
        1 / 0  # noqa: B018
    assert server_search_path(db) == "public"  # PostgreSQL undid the SET
    with schema_context("a"):
        assert count(db) == ROWS["a"]


def test_savepoint_rollback_after_a_switch(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with transaction.atomic(using=db.alias):
        with public_context():
            assert count(db) == ROWS["public"]
        with schema_context("b"):
            with pytest.raises(ZeroDivisionError), transaction.atomic(using=db.alias):
                assert count(db) == ROWS["b"]
                1 / 0  # noqa: B018
            assert count(db) == ROWS["b"]
        with public_context():
            assert count(db) == ROWS["public"]


def test_savepoint_rollback_undoing_the_set(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with transaction.atomic(using=db.alias):
        with schema_context("a"):
            sid = savepoint(using=db.alias)
        with schema_context("b"):
            assert count(db) == ROWS["b"]  # SET b after the savepoint
            transaction.savepoint_rollback(sid, using=db.alias)
            assert server_search_path(db) == "a, public"  # PostgreSQL undid it
            assert count(db) == ROWS["b"]


def test_commit_keeps_the_path_without_resending(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with transaction.atomic(using=db.alias), schema_context("a"):
        assert count(db) == ROWS["a"]
    with CaptureQueriesContext(db) as queries, schema_context("a"):
        assert count(db) == ROWS["a"]
    assert sets(queries) == 0


def test_raw_rollback_statement_is_noticed(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with public_context():
        count(db)
    db.set_autocommit(False)
    try:
        with schema_context("a"):
            assert count(db) == ROWS["a"]
            with db.cursor() as cursor:
                cursor.execute("ROLLBACK")
            assert count(db) == ROWS["a"]
    finally:
        db.rollback()
        db.set_autocommit(True)


def test_reconnect_starts_from_unknown(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with schema_context("b"):
        assert count(db) == ROWS["b"]
        db.close()
        assert count(db) == ROWS["b"]
    with public_context():
        db.close()
        assert count(db) == ROWS["public"]


def test_raw_psycopg_connection_after_first_cursor(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with schema_context("b"):
        count(db)
        raw = db.connection.execute("SELECT count(*) FROM t").fetchone()
        assert raw[0] == ROWS["b"]


def test_persistent_connection_alternating_tenants(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper(CONN_MAX_AGE=None)
    with CaptureQueriesContext(db) as queries:
        for schema in ["a", "b"] * 5:
            db.close_if_unusable_or_obsolete()  # what Django does between requests
            with schema_context(schema):
                assert count(db) == ROWS[schema]
                assert count(db) == ROWS[schema]
    assert sets(queries) == 10
    assert len(queries) == 30


def test_pool_hands_a_connection_over_without_leaking_the_path(
    make_wrapper: MakeWrapper,
) -> None:
    pool = {"min_size": 1, "max_size": 1}
    first = make_wrapper("pooled", OPTIONS={"pool": pool})
    with schema_context("a"):
        assert count(first) == ROWS["a"]
        physical = first.connection
    first.close()  # back to the pool, search_path still "a" on the server
    second = DatabaseWrapper(first.settings_dict, alias="pooled")
    try:
        with CaptureQueriesContext(second) as queries, schema_context("b"):
            assert count(second) == ROWS["b"]
            assert second.connection is physical
        assert sets(queries) == 1
        second.close()
        with CaptureQueriesContext(second) as queries, schema_context("b"):
            assert count(second) == ROWS["b"]
        assert sets(queries) == 0
        with public_context():
            assert second.connection.execute("SELECT count(*) FROM t").fetchone()[0] == ROWS["b"]
            assert count(second) == ROWS["public"]
    finally:
        second.close()


def test_recycles_a_connection_that_visited_too_many_schemas(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper(CONN_MAX_AGE=None)
    with override_settings(TENANCY={"MAX_SCHEMAS_PER_CONNECTION": 2}):
        for schema in ("a", "b"):
            with schema_context(schema):
                count(db)
        db.close_if_unusable_or_obsolete()
        assert db.connection is not None
        with public_context():
            count(db)
        db.close_if_unusable_or_obsolete()
        assert db.connection is None


def test_recycles_a_pooled_connection_that_visited_too_many_schemas(
    make_wrapper: MakeWrapper, server: dict[str, Any]
) -> None:
    """With Django's pool, requests over 12 schemas: no server session serves more than
    MAX_SCHEMAS_PER_CONNECTION + 1 of them (the request that goes over the limit ends
    the session), counted per server backend."""
    schemas = [f"many{n}" for n in range(12)]
    kwargs = {k: v for k, v in server.items() if k in ("host", "port", "user", "dbname")}
    with psycopg.connect(**kwargs, autocommit=True) as setup:
        for name in schemas:
            setup.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")
            setup.execute(f"CREATE TABLE IF NOT EXISTS {name}.t (x int)")
    db = make_wrapper(OPTIONS={"pool": {"min_size": 1, "max_size": 1}})
    served: dict[int, set[str]] = {}
    try:
        with override_settings(TENANCY={"MAX_SCHEMAS_PER_CONNECTION": 2}):
            for name in schemas * 2:  # one request each, as the request signals run it
                db.close_if_unusable_or_obsolete()
                with schema_context(name), db.cursor() as cursor:
                    cursor.execute("SELECT current_schema(), pg_backend_pid() FROM (SELECT 1) s")
                    schema, pid = cursor.fetchone()
                served.setdefault(pid, set()).add(schema)
                db.close_if_unusable_or_obsolete()
    finally:
        db.close()
        with psycopg.connect(**kwargs, autocommit=True) as cleanup:
            for name in schemas:
                cleanup.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    assert max(len(seen) for seen in served.values()) == 3
    assert len(served) >= 8


def test_failed_statement_in_transaction_then_rollback(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with schema_context("a"), transaction.atomic(using=db.alias):
        with (
            pytest.raises(Exception, match="no_such_table"),
            transaction.atomic(using=db.alias),
            db.cursor() as cursor,
        ):
            cursor.execute("SELECT * FROM no_such_table")
        assert count(db) == ROWS["a"]


def test_raw_set_by_user_code_is_corrected_on_servers_that_report_it(
    make_wrapper: MakeWrapper, server: dict[str, Any]
) -> None:
    db = make_wrapper()
    with schema_context("a"):
        count(db)
        with db.connection.cursor() as cursor:  # behind the backend's back
            cursor.execute("SET search_path TO public")
        if server["version"] == "pg15":
            # Documented limitation: before PostgreSQL 18 the server does not report
            # search_path, so a raw SET on the psycopg connection goes unnoticed.
            assert count(db) == ROWS["public"]
        else:
            assert count(db) == ROWS["a"]


def verify(wrapper: DatabaseWrapper, *schemas: str) -> None:
    """Have each schema verified (tenancy_app.leases) before round trips are counted: the
    verification is not what these tests measure (tests/test_stale_registry.py is)."""
    for schema in schemas:
        with schema_context(schema):
            count(wrapper)


@contextlib.contextmanager
def round_trips(wrapper: DatabaseWrapper) -> Iterator[list[int]]:
    """The round trips of the block, as a one-item list (tenancy_app.testing counts them)."""
    box: list[int] = []
    with count_round_trips(wrapper) as trips:
        yield box
    box.append(trips.count)


@pytest.mark.parametrize(
    "options",
    [{}, {"server_side_binding": True}],
    ids=["client-side binding: one message", "server-side binding: pipelined"],
)
def test_a_switch_costs_no_extra_round_trip(
    make_wrapper: MakeWrapper, options: dict[str, Any], settings: Any
) -> None:
    settings.TENANCY = {**settings.TENANCY, "REGISTRY_MAX_AGE": 60}  # leases outlive the test
    db = make_wrapper(OPTIONS=options)
    verify(db, "b", "a")  # the session is in a
    with round_trips(db) as trips, CaptureQueriesContext(db) as queries, schema_context("b"):
        assert count(db) == ROWS["b"]
    assert sets(queries) == 1  # one more statement...
    assert trips == [1]  # ...in the same round trip as the query
    with round_trips(db) as trips, schema_context("b"):
        assert count(db) == ROWS["b"]
    assert trips == [1]


def test_statements_that_refuse_transaction_blocks_are_not_pipelined(
    make_wrapper: MakeWrapper,
) -> None:
    db = make_wrapper()
    with schema_context("a"), db.cursor() as cursor:
        cursor.execute("VACUUM t")  # would fail inside the implicit transaction of a pipeline
        assert count(db) == ROWS["a"]


transaction_scope = override_settings(TENANCY={"SEARCH_PATH_SCOPE": "transaction"})


@transaction_scope
def test_transaction_scope_leaves_nothing_on_the_session(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    db.ensure_connection()
    before = server_search_path(db)
    verify(db, "a", "b")
    for schema in ("a", "b", "public", "a"):
        with schema_context(schema):
            with round_trips(db) as trips:
                assert count(db) == ROWS[schema]
            assert trips == [1]  # BEGIN; SET LOCAL; the query; COMMIT: one round trip
            assert server_search_path(db) == before


@transaction_scope
def test_transaction_scope_in_atomic_blocks(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with CaptureQueriesContext(db) as queries, transaction.atomic(using=db.alias):
        with schema_context("a"):
            assert count(db) == ROWS["a"]
            assert count(db) == ROWS["a"]
        with schema_context("b"):
            assert count(db) == ROWS["b"]
    local_sets = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SET LOCAL")]
    assert len(local_sets) == 2
    with transaction.atomic(using=db.alias), schema_context("b"):
        assert count(db) == ROWS["b"]  # a new transaction gets its own SET LOCAL
    assert server_search_path(db) != "b, public"


@transaction_scope
def test_transaction_scope_savepoint_rollback(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper()
    with transaction.atomic(using=db.alias):
        with schema_context("a"):
            sid = savepoint(using=db.alias)
        with schema_context("b"):
            assert count(db) == ROWS["b"]
            transaction.savepoint_rollback(sid, using=db.alias)
            assert count(db) == ROWS["b"]


@transaction_scope
def test_transaction_scope_failed_autocommit_statement_is_rolled_back(
    make_wrapper: MakeWrapper,
) -> None:
    db = make_wrapper()
    with schema_context("a"):
        with pytest.raises(Exception, match="division by zero"), db.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        assert db.connection.pgconn.transaction_status == pq.TransactionStatus.IDLE
        assert count(db) == ROWS["a"]


def test_statement_timeout_in_the_pipelined_statement(make_wrapper: MakeWrapper) -> None:
    db = make_wrapper(OPTIONS={"options": "-c statement_timeout=50"})
    with schema_context("b"):
        assert count(db) == ROWS["b"]
    with schema_context("a"):
        with pytest.raises(Exception, match="statement timeout"), db.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1) FROM t")  # pipelined with SET a: both undone
        assert server_search_path(db) == "b, public"
        assert count(db) == ROWS["a"]


def test_server_closing_the_connection(make_wrapper: MakeWrapper, server: dict[str, Any]) -> None:
    db = make_wrapper(CONN_MAX_AGE=None)
    with schema_context("a"):
        assert count(db) == ROWS["a"]
        pid = db.connection.info.backend_pid
        kwargs = {k: server[k] for k in ("host", "port", "user", "dbname")}
        with psycopg.connect(**kwargs, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(Exception, match=r"terminat|closed|lost"):
            count(db)
        db.close_if_unusable_or_obsolete()  # what Django does at the end of the request
        assert db.connection is None
        assert count(db) == ROWS["a"]
        assert db.connection.info.backend_pid != pid
