"""The sample project works end to end: ``manage.py check``, ``demo`` (twice) and serving.

It runs ``manage.py`` in subprocesses with ``sample_project.settings``, pointed by
``DATABASE_URL`` at a database of its own on the test server (created here and dropped
afterwards), so the test database's schemas are never touched. Pages are fetched over
HTTP from the development server that ``demo`` starts, with the Host header choosing
the tenant.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from tests.servers import database_url, default_server_params, free_port, serving

REPO = Path(__file__).resolve().parent.parent
ACME_PROJECTS = ("Rocket Skates", "Giant Magnet")
GLOBEX_PROJECTS = ("Doomsday Device", "Employee Hammocks")


@dataclass(frozen=True)
class SampleDatabase:
    name: str
    url: str


@pytest.fixture(scope="module")
def sample_database() -> Iterator[SampleDatabase]:
    """A fresh database for the sample project on the test server."""
    name = f"tenancy_sample_test_{os.getpid()}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(**default_server_params(), autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(create)
    try:
        yield SampleDatabase(name, database_url(settings.DATABASES["default"], name))
    finally:
        with psycopg.connect(**default_server_params(), autocommit=True) as conn:
            conn.execute(drop)


def _env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="sample_project.settings",
        DATABASE_URL=database_url,
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(database: SampleDatabase, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=_env(database.url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )


def _snapshot(database: SampleDatabase) -> dict[str, Any]:
    """What the sample database holds: tenants, domains, schemas and row counts per schema."""
    with psycopg.connect(**{**default_server_params(), "dbname": database.name}) as conn:
        tenants = conn.execute(
            "SELECT schema_name, name, status FROM public.tenancy_app_tenant ORDER BY 1"
        ).fetchall()
        domains = conn.execute("SELECT domain FROM public.tenancy_app_domain ORDER BY 1").fetchall()
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname <> 'information_schema' ORDER BY 1"
        ).fetchall()
        counts = {}
        for schema, _name, _status in tenants:
            for table in ("projects_project", "projects_task", "projects_label", "auth_user"):
                query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
                counts[f"{schema}.{table}"] = conn.execute(query).fetchone()[0]  # type: ignore[index]
        counts["public.auth_user"] = conn.execute(
            "SELECT count(*) FROM public.auth_user"
        ).fetchone()[0]  # type: ignore[index]
    return {"tenants": tenants, "domains": domains, "schemas": schemas, "counts": counts}


@dataclass
class DemoRuns:
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    after_first: dict[str, Any]
    after_second: dict[str, Any]


@pytest.fixture(scope="module")
def demo_runs(sample_database: SampleDatabase) -> DemoRuns:
    first = _manage(sample_database, "demo", "--no-serve")
    assert first.returncode == 0, first.stdout + first.stderr
    after_first = _snapshot(sample_database)
    second = _manage(sample_database, "demo", "--no-serve")
    assert second.returncode == 0, second.stdout + second.stderr
    return DemoRuns(first, second, after_first, _snapshot(sample_database))


@pytest.fixture(scope="module")
def server(
    demo_runs: DemoRuns, sample_database: SampleDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """``manage.py demo`` a third time, now serving on a free local port."""
    port = free_port()
    log = tmp_path_factory.mktemp("sample") / "server.log"
    command = [sys.executable, "manage.py", "demo", "--addrport", f"127.0.0.1:{port}"]
    with serving(command, port, log, env=_env(sample_database.url), cwd=REPO):
        yield port


def _get(port: int, host: str, path: str = "/") -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Host": f"{host}:{port}"})
        response = conn.getresponse()
        return response.status, response.read().decode(), dict(response.getheaders())
    finally:
        conn.close()


def test_sample_project_passes_system_checks(sample_database: SampleDatabase) -> None:
    result = _manage(sample_database, "check", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_demo_creates_two_seeded_tenants_with_a_superuser_each(demo_runs: DemoRuns) -> None:
    state = demo_runs.after_first
    assert state["tenants"] == [
        ("acme", "Acme Corporation", "active"),
        ("globex", "Globex Corporation", "active"),
    ]
    assert state["domains"] == [("acme.localhost",), ("globex.localhost",)]
    assert {("acme",), ("globex",), ("public",)} <= set(state["schemas"])
    counts = state["counts"]
    for schema in ("acme", "globex"):
        assert counts[f"{schema}.projects_project"] == 2
        assert counts[f"{schema}.projects_task"] == 5
        assert counts[f"{schema}.auth_user"] == 1
    assert counts["public.auth_user"] == 1
    out = demo_runs.first.stdout
    for url in (
        "http://localhost:8000",
        "http://acme.localhost:8000",
        "http://globex.localhost:8000",
    ):
        assert url in out
    assert "admin / admin" in out


def test_second_demo_run_changes_nothing(demo_runs: DemoRuns) -> None:
    assert demo_runs.after_second == demo_runs.after_first
    assert "Creating tenant" not in demo_runs.second.stdout
    assert "exists" in demo_runs.second.stdout


def test_demo_fails_clearly_without_a_database() -> None:
    missing = SampleDatabase(
        "tenancy_sample_missing",
        database_url(settings.DATABASES["default"], "tenancy_sample_missing"),
    )
    result = _manage(missing, "demo", "--no-serve")
    assert result.returncode != 0
    assert "tenancy_sample_missing" in result.stderr
    assert "does not exist" in result.stderr


@pytest.mark.parametrize(
    ("host", "name", "own", "other"),
    [
        ("acme.localhost", "Acme Corporation", ACME_PROJECTS, GLOBEX_PROJECTS),
        ("globex.localhost", "Globex Corporation", GLOBEX_PROJECTS, ACME_PROJECTS),
    ],
)
def test_each_tenant_sees_only_its_own_projects(
    server: int, host: str, name: str, own: tuple[str, ...], other: tuple[str, ...]
) -> None:
    status, body, _ = _get(server, host)
    assert status == 200
    assert f"Projects of {name}" in body
    for project in own:
        assert project in body
    for project in other:
        assert project not in body
    _, tasks, _ = _get(server, host, "/tasks/")
    for project in other:
        assert project not in tasks


def test_project_list_shows_open_task_counts(server: int) -> None:
    _, body, _ = _get(server, "acme.localhost")
    # Rocket Skates: 3 tasks, one of them done.
    assert re.search(r"Rocket Skates</a></td>\s*<td>2</td>\s*<td>3</td>", body), body


def test_public_site_shows_no_tenant_data(server: int) -> None:
    status, body, _ = _get(server, "localhost")
    assert status == 200
    assert "Sign up" in body
    for private in (*ACME_PROJECTS, *GLOBEX_PROJECTS, "Acme Corporation", "Globex Corporation"):
        assert private not in body


def test_public_admin_is_the_registry_admin(server: int) -> None:
    status, body, _ = _get(server, "localhost", "/admin/login/")
    assert status == 200
    assert "Workspace administration" not in body


def test_unknown_host_is_not_found(server: int) -> None:
    status, body, _ = _get(server, "initech.localhost")
    assert status == 404
    assert "Rocket Skates" not in body


def test_creating_a_project_needs_a_login_of_that_tenant(server: int) -> None:
    status, _, headers = _get(server, "acme.localhost", "/projects/new/")
    assert status == 302
    assert headers["Location"].startswith("/admin/login/")
    status, body, _ = _get(server, "acme.localhost", "/admin/login/")
    assert status == 200
    assert "Workspace administration" in body
