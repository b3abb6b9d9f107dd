"""End to end on a real Citus cluster (a coordinator and two workers, schema-based sharding).

The cluster is started by ``../shared/citus/cluster.sh`` (PostgreSQL 15 from apt, Citus
13.2.2 from the tarball beside it) for this module and destroyed afterwards. Everything
runs as a user would: ``manage.py`` commands and Python snippets in subprocesses with
``tests.citus_settings`` (the test apps plus ``tests.billing``, whose table has a foreign
key to the tenant registry), gunicorn serving the app, and psycopg reading what the
coordinator holds.

The story: a project runs on Citus with tenants (made with the test settings), then
deploys a tenant app with a foreign key to the registry. The check warns, migrate_schemas
refuses until the registry is a reference table, ``--reference-tables`` makes it one and
puts back the domain sequence Citus resets; then provisioning by template copy and by
migrations, clone, rename, delete, tenant_command, requests on two workers, and a tenant
moved between workers while the app writes to it.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.citus_cluster import Cluster, citus_cluster
from tests.servers import free_port, serving

pytestmark = pytest.mark.heavy

REPO = Path(__file__).resolve().parent.parent
BASE_SETTINGS = "tests.settings"
CITUS_SETTINGS = "tests.citus_settings"


@dataclass
class App:
    """The project on the cluster: commands, Python snippets and SQL."""

    cluster: Cluster
    log: list[str] = field(default_factory=list)

    def env(self, settings: str = CITUS_SETTINGS) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings,
            "DATABASE_URL": self.cluster.url,
            "PYTHONUNBUFFERED": "1",
        }

    def manage(
        self, *args: str, settings: str = CITUS_SETTINGS, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env(settings),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        self.log.append(f"$ manage.py {' '.join(args)}\n{result.stdout}{result.stderr}")
        if ok:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def python(self, code: str, settings: str = CITUS_SETTINGS) -> Any:
        """Run ``code`` with Django set up; it prints one JSON value on its last line."""
        script = "import django, json\ndjango.setup()\n" + textwrap.dedent(code)
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            env=self.env(settings),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.cluster.url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def distributed_schemas(self) -> set[str]:
        return {
            row[0] for row in self.sql("SELECT schemaid::regnamespace::text FROM pg_dist_schema")
        }

    def node_of(self, schema: str) -> str:
        found = self.python(
            f"""
            from tenancy_app.citus import tenant_nodes
            print(json.dumps({{k: v.name for k, v in tenant_nodes([{schema!r}]).items()}}))
            """
        )
        return str(found[schema])


@dataclass
class Deployment:
    """What happened while the tenant app with a foreign key to the registry was deployed."""

    check_before: subprocess.CompletedProcess[str]
    refused: subprocess.CompletedProcess[str]
    migrated: subprocess.CompletedProcess[str]
    check_after: subprocess.CompletedProcess[str]
    domain_sequence_before: int
    direct_check: list[str]


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    with citus_cluster() as cluster:
        project = App(cluster)
        yield project


@pytest.fixture(scope="module")
def deployment(app: App) -> Deployment:
    # A project on Citus with two tenants, before it has a foreign key to the registry.
    app.manage("migrate_schemas", settings=BASE_SETTINGS)
    for schema in ("acme", "globex"):
        app.manage(
            "create_tenant", "--schema", schema, "--name", schema.title(),
            "--domain", f"{schema}.test", "--noinput", settings=BASE_SETTINGS,
        )  # fmt: skip
    sequence = app.sql("SELECT last_value FROM public.tenancy_app_domain_id_seq")[0][0]

    # Then it deploys tests.billing, whose table references public.tenancy_app_tenant.
    check_before = app.manage("check", "--database", "default", ok=False)
    direct_check = app.python(
        """
        from tenancy_app.checks import check_reference_tables
        print(json.dumps([m.id for m in check_reference_tables(databases=["default"])]))
        """
    )
    refused = app.manage("migrate_schemas", ok=False)
    migrated = app.manage("migrate_schemas", "--reference-tables")
    check_after = app.manage("check", "--database", "default", "--fail-level", "WARNING")
    return Deployment(check_before, refused, migrated, check_after, sequence, direct_check)


def test_check_warns_until_the_registry_is_a_reference_table(deployment: Deployment) -> None:
    assert deployment.direct_check == ["tenancy.W141"]
    out = deployment.check_before.stdout + deployment.check_before.stderr
    assert "tenancy.W141" in out
    assert "tenancy_app_tenant" in out and "billing.Subscription.tenant" in out
    assert "tenancy.W141" not in deployment.check_after.stdout + deployment.check_after.stderr


def test_migrate_schemas_waits_for_reference_tables(app: App, deployment: Deployment) -> None:
    refused = deployment.refused
    assert refused.returncode != 0
    assert "migrate_schemas --reference-tables" in refused.stdout + refused.stderr
    assert "tenancy_app_tenant" in refused.stdout + refused.stderr


def test_reference_tables_keep_the_domain_sequence(app: App, deployment: Deployment) -> None:
    out = deployment.migrated.stdout
    assert "Made tenancy_app_tenant a reference table." in out
    assert "Citus made tenancy_app_domain a local Citus table" in out
    assert "Put sequence tenancy_app_domain_id_seq back" in out
    kinds = dict(
        app.sql(
            "SELECT logicalrelid::regclass::text, repmodel FROM pg_dist_partition "
            "WHERE logicalrelid::regclass::text IN ('tenancy_app_tenant', 'tenancy_app_domain')"
        )
    )
    assert kinds == {"tenancy_app_tenant": "t", "tenancy_app_domain": "s"}
    position = app.sql("SELECT last_value FROM public.tenancy_app_domain_id_seq")[0][0]
    assert position == deployment.domain_sequence_before
    # Nothing left to do the second time.
    assert "nothing to do" in app.manage("make_reference_tables").stdout


def test_new_migrations_ran_in_every_tenant(app: App, deployment: Deployment) -> None:
    for schema in ("acme", "globex", "tenancy_template"):
        columns = app.sql(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'billing_subscription'",
            [schema],
        )
        assert {"tenant_id", "plan", "seats"} <= {row[0] for row in columns}, schema
    app.manage("migrate_schemas", "--check")


def test_a_tenant_row_references_its_registry_row(app: App, deployment: Deployment) -> None:
    made = app.python(
        """
        from tenancy_app import tenant_context
        from tenancy_app.lookup import tenant_for_schema
        from tests.billing.models import Subscription
        tenant = tenant_for_schema("acme")
        with tenant_context(tenant):
            Subscription.objects.create(tenant_id=tenant.pk, plan="gold", seats=3)
            print(json.dumps([s.plan for s in Subscription.objects.all()]))
        """
    )
    assert made == ["gold"]
    # The foreign key is enforced across the worker and the reference table.
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        app.sql("INSERT INTO acme.billing_subscription (tenant_id, plan, seats) VALUES (0, 'x', 1)")


def test_template_copy_and_migrations_give_the_same_distributed_schema(
    app: App, deployment: Deployment
) -> None:
    app.manage(
        "create_tenant", "--schema", "by_copy", "--name", "By copy", "--domain", "copy.test",
        "--noinput",
    )  # fmt: skip
    app.manage(
        "create_tenant", "--schema", "by_migrations", "--name", "By migrations",
        "--domain", "migrations.test", "--migrate", "--noinput",
    )  # fmt: skip
    compared = app.python(
        """
        from tests.catalog import differences, schema_catalog, schema_rows
        copied, migrated = schema_catalog("by_copy"), schema_catalog("by_migrations")
        rows = [
            {key: sorted(row[1:] for row in value) for key, value in schema_rows(s).items()}
            for s in ("by_copy", "by_migrations")
        ]
        print(json.dumps({
            "differences": differences(copied, migrated),
            "rows_equal": rows[0] == rows[1],
            "tables": sorted(row[0] for row in migrated["relations"]),
            "foreign_keys": sum(row[2] == "f" for row in migrated["constraints"]),
        }, default=str))
        """
    )
    assert compared["differences"] == []
    assert compared["rows_equal"]
    assert {"notes_note", "billing_subscription", "auth_permission"} <= set(compared["tables"])
    assert compared["foreign_keys"] > 0
    assert {"by_copy", "by_migrations", "acme", "globex"} <= app.distributed_schemas()


def test_clone_rename_and_delete(app: App, deployment: Deployment) -> None:
    app.sql("INSERT INTO acme.notes_note (title, created_at) VALUES ('cloned', now())")
    app.manage("clone_tenant", "--from", "acme", "--schema", "acme_copy", "--noinput")
    assert "acme_copy" in app.distributed_schemas()
    assert app.sql("SELECT title FROM acme_copy.notes_note") == [("cloned",)]
    assert app.sql("SELECT plan FROM acme_copy.billing_subscription") == [("gold",)]

    app.manage("rename_tenant", "--schema", "acme_copy", "--to", "acme_renamed", "--noinput")
    schemas = app.distributed_schemas()
    assert "acme_renamed" in schemas and "acme_copy" not in schemas
    assert app.sql("SELECT title FROM acme_renamed.notes_note") == [("cloned",)]

    app.manage("delete_tenant", "--schema", "acme_renamed", "--noinput")
    assert "acme_renamed" not in app.distributed_schemas()
    assert (
        app.sql("SELECT 1 FROM public.tenancy_app_tenant WHERE schema_name = 'acme_renamed'") == []
    )


def test_tenant_command_runs_in_every_tenant(app: App, deployment: Deployment) -> None:
    out = app.manage("tenant_command", "notes_info", "--all").stdout
    for schema in ("acme", "globex", "by_copy", "by_migrations"):
        assert f"schema={schema} tenant={schema}" in out


def test_list_tenants_and_list_nodes_show_placement(app: App, deployment: Deployment) -> None:
    rows = json.loads(app.manage("list_tenants", "--format", "json").stdout)
    workers = {app.cluster.node(port) for port in app.cluster.worker_ports}
    assert {row["node"] for row in rows} <= workers
    nodes = json.loads(app.manage("list_nodes", "--format", "json").stdout)
    by_name = {node["node"]: node for node in nodes}
    assert by_name[app.cluster.node(app.cluster.coordinator_port)]["role"] == "coordinator"
    assert sum(by_name[name]["tenants"] for name in workers) == len(rows)
    assert all(by_name[name]["tenant_bytes"] > 0 for name in workers if by_name[name]["tenants"])
    table = app.manage("list_nodes").stdout
    assert "TENANTS" in table and app.cluster.node(app.cluster.worker_ports[0]) in table


# The request path -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    app: App, deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """gunicorn serving the project, two sync workers."""
    port = free_port()
    log = tmp_path_factory.mktemp("citus") / "gunicorn.log"
    command = [
        sys.executable, "-m", "gunicorn", "tests.wsgi:application", "--bind",
        f"127.0.0.1:{port}", "--workers", "2", "--access-logfile", "-",
    ]  # fmt: skip
    with serving(command, port, log, env=app.env(), cwd=REPO):
        yield port


def _request(
    port: int, host: str, method: str = "GET", path: str = "/notes/", body: str = ""
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Host": host}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        return response.status, json.loads(text) if response.status == 200 else text
    finally:
        conn.close()


def _spread_over_both_workers(app: App, first: str, second: str) -> None:
    """Put ``first`` and ``second`` on different workers (moving ``second`` if needed)."""
    if app.node_of(first) == app.node_of(second):
        other = next(
            app.cluster.node(port)
            for port in app.cluster.worker_ports
            if app.cluster.node(port) != app.node_of(first)
        )
        app.manage("move_tenant", "--schema", second, "--node", other)
    assert app.node_of(first) != app.node_of(second)


def test_requests_are_isolated_across_workers(app: App, server: int) -> None:
    _spread_over_both_workers(app, "acme", "globex")
    app.sql("INSERT INTO globex.notes_note (title, created_at) VALUES ('globex only', now())")
    acme_titles = [row[0] for row in app.sql("SELECT title FROM acme.notes_note ORDER BY id")]
    for _ in range(3):  # both gunicorn workers, switching tenants on their connections
        status, acme = _request(server, "acme.test")
        assert status == 200 and acme["schema"] == "acme" and acme["titles"] == acme_titles
        status, globex = _request(server, "globex.test")
        assert status == 200 and globex["schema"] == "globex"
        assert globex["titles"] == ["globex only"]
    assert _request(server, "unknown.test")[0] == 404


def test_move_during_writes_loses_nothing(app: App, server: int) -> None:
    """A bounded write loop through the app while move_tenant moves the tenant."""
    _spread_over_both_workers(app, "acme", "globex")
    source = app.node_of("globex")
    target = app.node_of("acme")  # the other worker
    # Enough rows that the copy takes a few seconds while the writes go on.
    app.sql(
        "INSERT INTO globex.notes_note (title, created_at) "
        "SELECT 'seed ' || g, now() FROM generate_series(1, 300000) g"
    )
    written: list[tuple[str, int, float]] = []
    failures: list[str] = []
    stop = threading.Event()

    def writer(number: int) -> None:
        for i in range(20000):  # bounded, whatever happens
            if stop.is_set():
                return
            title = f"w{number}-{i}"
            try:
                status, body = _request(
                    server,
                    "globex.test",
                    "POST",
                    "/write/",
                    urllib.parse.urlencode({"title": title}),
                )
            except OSError as exc:
                failures.append(f"{title}: {exc!r}")
                continue
            if status == 200 and body["schema"] == "globex":
                written.append((title, body["id"], time.monotonic()))
            else:
                failures.append(f"{title}: {status} {body}")

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for thread in writers:
        thread.start()
    try:
        time.sleep(1)
        began = time.monotonic()
        move = app.manage("move_tenant", "--schema", "globex", "--node", target)
        ended = time.monotonic()
        time.sleep(1)
    finally:
        stop.set()
        for thread in writers:
            thread.join(60)

    assert failures == []
    assert app.node_of("globex") == target != source
    assert f"Moved tenant 'globex' from {source} to {target}" in move.stdout
    assert "copying data" in move.stdout or "catching up" in move.stdout  # progress shown
    during = [title for title, _, at in written if began <= at <= ended]
    assert len(during) > 20, (len(written), ended - began)
    stored = dict(app.sql("SELECT title, id FROM globex.notes_note WHERE title LIKE 'w%%'"))
    assert stored == {title: pk for title, pk, _ in written}  # zero lost rows


def test_move_to_an_unknown_node_is_refused(app: App, deployment: Deployment) -> None:
    before = app.node_of("acme")
    refused = app.manage("move_tenant", "--schema", "acme", "--node", "127.0.0.1:1", ok=False)
    assert refused.returncode != 0
    assert "'127.0.0.1:1' is not a node of this Citus cluster" in refused.stderr
    assert app.cluster.node(app.cluster.worker_ports[0]) in refused.stderr
    other = next(
        app.cluster.node(port)
        for port in app.cluster.worker_ports
        if app.cluster.node(port) != before
    )
    inside = app.python(
        f"""
        from django.db import transaction
        from tenancy_app.citus import move_tenant
        from tenancy_app.exceptions import TenantError
        from tenancy_app.lookup import tenant_for_schema
        try:
            with transaction.atomic():
                move_tenant(tenant_for_schema("acme"), {other!r})
        except TenantError as exc:
            print(json.dumps(str(exc)))
        """
    )
    assert "cannot run inside a transaction" in inside
    assert app.node_of("acme") == before


def test_admin_shows_each_tenant_node_and_the_nodes(app: App, deployment: Deployment) -> None:
    pages = app.python(
        """
        from django.contrib.auth import get_user_model
        from django.test import Client
        from tenancy_app import public_context
        with public_context():
            user, _ = get_user_model().objects.get_or_create(
                username="root", defaults={"is_staff": True, "is_superuser": True}
            )
        client = Client(HTTP_HOST="public.test")
        client.force_login(user)
        pages = {}
        for name, url in (("list", "/admin/tenancy_app/tenant/"),
                          ("nodes", "/admin/tenancy_app/tenant/nodes/")):
            response = client.get(url)
            pages[name] = [response.status_code, response.content.decode()]
        print(json.dumps(pages))
        """
    )
    status, listing = pages["list"]
    assert status == 200 and "column-node" in listing and "/tenant/nodes/" in listing
    assert app.node_of("acme") in listing
    status, nodes = pages["nodes"]
    assert status == 200 and 'id="tenancy-nodes"' in nodes
    for port in app.cluster.worker_ports:
        assert app.cluster.node(port) in nodes


def test_taken_names_are_already_exists_and_nothing_else_is(
    app: App, deployment: Deployment
) -> None:
    # The registry is a reference table (its errors come from a worker without their
    # diagnostics), the domain table a local Citus table (its errors name a shard).
    taken_schema = app.manage(
        "create_tenant", "--schema", "acme", "--name", "A", "--domain", "new.test", "--noinput",
        ok=False,
    )  # fmt: skip
    assert "A tenant with schema 'acme' already exists" in taken_schema.stderr
    taken_domain = app.manage(
        "create_tenant", "--schema", "newcomer", "--name", "N", "--domain", "acme.test",
        "--noinput", ok=False,
    )  # fmt: skip
    assert "A tenant with domain 'acme.test' already exists" in taken_domain.stderr
    # What Citus did before make_reference_tables put the sequence back: the next domain
    # id collides with a row. That is not "already exists".
    app.sql(
        "SELECT setval('public.tenancy_app_domain_id_seq', min(id), false) "
        "FROM public.tenancy_app_domain"
    )
    collision = app.manage(
        "create_tenant", "--schema", "newcomer", "--name", "N", "--domain", "newcomer.test",
        "--noinput", ok=False,
    )  # fmt: skip
    assert "failed while registering the domain" in collision.stderr
    assert "tenancy_app_domain_pkey" in collision.stderr
    assert "already exists." not in collision.stderr.split("DETAIL")[0]
    app.sql(
        "SELECT setval('public.tenancy_app_domain_id_seq', max(id)) FROM public.tenancy_app_domain"
    )
    assert "newcomer" not in app.distributed_schemas()
