"""Faults: processes killed with SIGKILL, PostgreSQL restarted, statements cancelled.

- ``create_tenant`` killed at several points of provisioning: no tenant is left
  registered (active or not) without its complete schema, nothing is half made, no lock
  is left held, and running it again works.
- ``migrate_schemas`` killed mid-run over 50 tenants: every schema is either migrated
  or untouched (never half), the advisory locks are free, and a rerun completes.
- PostgreSQL restarted under traffic through gunicorn: requests fail while it is down,
  none is ever answered from another tenant, and all succeed again afterwards.
- Statement timeouts and cancels in the middle of requests: the request fails, and the
  next requests on the same connection run in their own tenant's schema.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.reliability import (
    Http,
    Project,
    Traffic,
    advisory_locks,
    backends,
    gunicorn,
    ok,
    private_server,
    scratch_project,
    seed,
    wait_for,
)
from tests.servers import pg15_server, require_pg15

pytestmark = pytest.mark.heavy

TEMPLATE = "tenancy_template"


@pytest.fixture(scope="module")
def project() -> Iterator[Project]:
    with scratch_project("faults") as project:
        seed(project, 2)  # makes the template too
        yield project


def _tables(project: Project, schema: str) -> list[str]:
    rows = project.rows(
        "SELECT c.relname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'S') ORDER BY 1",
        [schema],
    )
    return [row[0] for row in rows]


def _migrated_0002(project: Project, schema: str) -> tuple[bool, bool]:
    """(the column slowmig 0002 adds exists, its django_migrations row exists)."""
    column = project.rows(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = 'slowmig_thing' AND column_name = 'extra'",
        [schema],
    )
    row = project.rows(
        sql.SQL("SELECT count(*) FROM {}.django_migrations WHERE app = 'slowmig' "
                "AND name = '0002_thing_extra'").format(sql.Identifier(schema))
    )  # fmt: skip
    assert row[0][0] in (0, 1)
    return bool(column), bool(row[0][0])


def _domain(name: str) -> str:
    return f"{name.replace('_', '-')}.test"


def _assert_nothing_left(project: Project, name: str, app: str) -> None:
    wait_for(lambda: not backends(project, app), f"the killed command's sessions ({app}) to end")
    assert (
        project.rows("SELECT status FROM public.tenancy_app_tenant WHERE schema_name = %s", [name])
        == []
    )
    assert (
        project.rows(
            "SELECT domain FROM public.tenancy_app_domain WHERE domain = %s", [_domain(name)]
        )
        == []
    )
    assert project.rows("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", [name]) == []
    assert advisory_locks(project) == []


def _create(project: Project, name: str, app: str, *extra: str, **env: str) -> Any:
    return project.start(
        "create_tenant", f"--schema={name}", f"--name={name}", f"--domain={_domain(name)}",
        "--noinput", *extra, env={"RELIABILITY_APP": app, **env},
    )  # fmt: skip


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def _retry_works(project: Project, name: str) -> None:
    ok(project.manage("create_tenant", f"--schema={name}", f"--name={name}",
                      f"--domain={_domain(name)}", "--noinput"))  # fmt: skip
    assert project.rows(
        "SELECT status FROM public.tenancy_app_tenant WHERE schema_name = %s", [name]
    ) == [("active",)]
    assert _tables(project, name) == _tables(project, TEMPLATE)


@contextmanager
def _holding(project: Project, statement: str) -> Iterator[psycopg.Connection[Any]]:
    """A transaction of the test's own that holds a lock until the block ends."""
    with project.connect() as conn:
        conn.execute("BEGIN")
        conn.execute(statement)
        yield conn
        conn.execute("ROLLBACK")


def _blocked_on_lock(project: Project, app: str) -> Callable[[], bool]:
    return lambda: any(row[2] == "Lock" for row in backends(project, app))


def _running(project: Project, app: str, text: str) -> Callable[[], bool]:
    return lambda: any(row[1] == "active" and text in row[3] for row in backends(project, app))


@pytest.mark.parametrize(
    "table", ["public.tenancy_app_tenant", "public.tenancy_app_domain"], ids=["tenant", "domain"]
)
def test_create_tenant_killed_while_registering(project: Project, table: str) -> None:
    name, app = f"killed_reg_{table.rsplit('_', 1)[1]}", f"create-{table}"
    with _holding(project, f"LOCK TABLE {table} IN EXCLUSIVE MODE"):
        process = _create(project, name, app)
        wait_for(
            _blocked_on_lock(project, app), "create_tenant to wait on the registry", process=process
        )
        _kill(process)
    _assert_nothing_left(project, name, app)
    _retry_works(project, name)


def test_create_tenant_killed_while_copying_the_template(project: Project) -> None:
    """The template holds 300,000 rows: the copy script runs long enough to be caught."""
    name, app = "killed_copy", "create-copy"
    with project.connect() as conn:
        conn.execute(
            "INSERT INTO tenancy_template.slowmig_thing (name, extra) "
            "SELECT 'row ' || n, n FROM generate_series(1, 300000) n"
        )
    try:
        process = _create(project, name, app)
        wait_for(
            _running(project, app, "CREATE TABLE"),
            "the copy script to run",
            timeout=120,
            process=process,
        )
        _kill(process)
        _assert_nothing_left(project, name, app)
    finally:
        with project.connect() as conn:
            conn.execute("TRUNCATE tenancy_template.slowmig_thing")
    _retry_works(project, name)


def test_create_tenant_killed_while_bringing_the_template_up_to_date(project: Project) -> None:
    """The template is behind (a deploy's migration): provisioning migrates it first."""
    name, app = "killed_template", "create-template"
    ok(project.manage("migrate_schemas", f"--schema={TEMPLATE}", "slowmig", "0001"))
    process = _create(project, name, app, SLOWMIG_SECONDS="60")
    wait_for(_running(project, app, "pg_sleep"), "the template's migration to run", process=process)
    _kill(process)
    # The backend notices its client is gone once the sleep is cancelled.
    project.rows(
        "SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity "
        "WHERE application_name = %s",
        [app],
    )
    _assert_nothing_left(project, name, app)
    assert _migrated_0002(project, TEMPLATE) == (False, False)  # untouched, not half
    _retry_works(project, name)
    assert _migrated_0002(project, TEMPLATE) == (True, True)


def test_create_tenant_killed_while_migrating_its_schema(project: Project) -> None:
    """``--migrate``: the new schema is made by running the migrations in it."""
    name, app = "killed_migrate", "create-migrate"
    process = _create(project, name, app, "--migrate", SLOWMIG_SECONDS="60")
    wait_for(
        _running(project, app, "pg_sleep"), "the new schema's migration to run", process=process
    )
    _kill(process)
    project.rows(
        "SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity "
        "WHERE application_name = %s",
        [app],
    )
    _assert_nothing_left(project, name, app)
    _retry_works(project, name)


# migrate_schemas --------------------------------------------------------------------------


def test_migrate_schemas_killed_mid_run_over_50_tenants(tmp_path: Path) -> None:
    with scratch_project("faults_migrate") as project:
        tenants = seed(project, 50)
        ok(project.manage("migrate_schemas", "slowmig", "0001", "--noinput"))
        schemas = [TEMPLATE, *tenants]
        assert {_migrated_0002(project, s) for s in schemas} == {(False, False)}
        app = "deploy"
        process = project.start(
            "migrate_schemas", "--jobs=2", "--noinput",
            env={"RELIABILITY_APP": app, "SLOWMIG_SECONDS": "0.3"},
        )  # fmt: skip

        def some_migrated() -> bool:
            done = project.rows(
                sql.SQL(" UNION ALL ").join(
                    sql.SQL("SELECT count(*) FROM {}.django_migrations "
                            "WHERE app = 'slowmig' AND name = '0002_thing_extra'").format(
                        sql.Identifier(schema)
                    )
                    for schema in schemas
                )
            )  # fmt: skip
            return sum(row[0] for row in done) >= 10

        wait_for(some_migrated, "ten schemas to be migrated", timeout=120)
        _kill(process)
        wait_for(lambda: not backends(project, app), "the killed run's sessions to end")
        assert advisory_locks(project) == []
        states = {schema: _migrated_0002(project, schema) for schema in schemas}
        half = {schema: state for schema, state in states.items() if state[0] != state[1]}
        assert half == {}
        migrated = sum(1 for state in states.values() if state == (True, True))
        assert 10 <= migrated < len(schemas), "the run was not killed mid-way"

        rerun = ok(project.manage("migrate_schemas", "--noinput"))
        assert "none failed" in rerun.stdout
        assert {_migrated_0002(project, s) for s in schemas} == {(True, True)}
        assert advisory_locks(project) == []


# PostgreSQL restarted under traffic ------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgresql_restart_under_traffic(tmp_path: Path, mode: str) -> None:
    """gunicorn (2 workers x 4 threads, persistent connections with health checks) serves
    12 tenants while the server restarts (``immediate``: as after a crash, with
    recovery). Requests may fail while it is down; none is answered from another tenant,
    no acknowledged write is lost, and every request sent once it is back succeeds."""
    with private_server() as server, scratch_project("restart", server=server.params) as project:
        tenants = seed(project, 12)
        log = tmp_path / "gunicorn.log"
        with gunicorn(project, log, RELIABILITY_CONN_MAX_AGE="60") as port:
            traffic = Traffic(port, tenants, threads=6)
            stop = threading.Event()
            runner = threading.Thread(target=traffic.run, kwargs={"until": stop})
            runner.start()
            try:
                wait_for(lambda: len(traffic.results) >= 200, "traffic before the restart")
                server.restart(mode)
                back = time.monotonic()
                wait_for(
                    lambda: sum(r.started > back for r in traffic.results) >= 200,
                    "traffic after the restart",
                )
            finally:
                stop.set()
                runner.join()
        report = traffic.check(project)
    after = [r for r in traffic.results if r.started > back]
    failed_after = collections.Counter(r.status for r in after if r.status != 200)
    assert report["wrong"] == []
    assert report["lost"] == [] and report["misplaced"] == [] and report["twice"] == []
    assert failed_after == {}, (failed_after, log.read_text()[-3000:])
    assert report["errors"] > 0 or mode == "fast"  # the restart was felt


# Statement timeouts and cancels -----------------------------------------------------------

SERVERS = ["pg18", "pg15"]


@contextmanager
def _server(kind: str) -> Iterator[dict[str, Any] | None]:
    if kind == "pg18":
        yield None  # the suite's own server
        return
    require_pg15()  # installs Debian's postgresql-15 where it is missing (CI)
    with pg15_server() as params:
        yield params


@pytest.mark.parametrize(
    ("kind", "scope"), [("pg18", "session"), ("pg18", "transaction"), ("pg15", "session")]
)
def test_statement_timeouts_and_cancels_mid_request(tmp_path: Path, kind: str, scope: str) -> None:
    """One gunicorn thread, so one connection serves every request in turn. A statement
    that times out or is cancelled fails its request (500); the requests after it, for
    its tenant and for others, run in their own schemas. PostgreSQL 15 does not report
    search_path changes, so there the backend's own record is what is tested."""
    app = f"web-{kind}-{scope}"
    with _server(kind) as params, scratch_project(f"timeouts_{kind}", server=params) as project:
        tenants = seed(project, 3)
        env = {
            "RELIABILITY_CONN_MAX_AGE": "60",
            "RELIABILITY_STATEMENT_TIMEOUT": "1000",
            "RELIABILITY_SCOPE": scope,
            "RELIABILITY_APP": app,
        }
        with gunicorn(project, tmp_path / "gunicorn.log", workers=1, threads=1, **env) as port:
            http = Http(port)

            def read(tenant: str) -> None:
                status, body = http.request("GET", "/notes/", f"{tenant}.test")
                assert status == 200, (tenant, status)
                assert Traffic._wrong(tenant, body, write=False) is None, body

            def sleeping_in(tenant: str, seconds: float, atomic: bool) -> int:
                path = f"/sleep/?seconds={seconds}" + ("&atomic=1" if atomic else "")
                return http.request("GET", path, f"{tenant}.test")[0]

            first, second, third = tenants
            for atomic in (False, True):
                read(first)
                assert sleeping_in(second, 3, atomic) == 500  # statement_timeout (1 s)
                for tenant in (first, second, third, second, first):
                    read(tenant)

                read(first)
                cancelled: list[int] = []
                sleeper = threading.Thread(
                    target=lambda out, a: out.append(sleeping_in(second, 0.9, a)),
                    args=(cancelled, atomic),
                )
                sleeper.start()
                wait_for(_running(project, app, "pg_sleep"), "the request's statement")
                project.rows(
                    "SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity "
                    "WHERE application_name = %s AND query LIKE %s",
                    [app, "%pg_sleep%"],
                )
                sleeper.join()
                assert cancelled == [500]
                for tenant in (first, second, third, second, first):
                    read(tenant)
            http.close()
