"""The management commands, through call_command and through a real `python -m django` process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.db import connection
from django.db.models.signals import post_migrate
from django.test.utils import CaptureQueriesContext
from psycopg import sql

from tenancy_app.conf import tenancy_settings
from tenancy_app.context import public_context, schema_context, tenant_context
from tenancy_app.models import Tenant, TenantStatus
from tenancy_app.schemas import create_schema, drop_schema, list_schemas, schema_exists
from tests.notes.models import Note
from tests.servers import database_url

REPO_ROOT = Path(__file__).resolve().parent.parent

BAD_NAMES = [
    "Robert'); DROP SCHEMA public;--",
    "pg_x",
    "a" * 64,
    "public",
    "Acme",
    "1abc",
]


class FakeTerminal(io.StringIO):
    """Answers prompts as if typed on a terminal."""

    def isatty(self) -> bool:
        return True


def run(*args: str, **options: object) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def table_exists(schema: str, table: str) -> bool:
    with public_context(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            [schema, table],
        )
        return cursor.fetchone() is not None


def manage(*args: str, database: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m django ARGS` against this test run's database (committed data only)."""
    url = database_url(connection.settings_dict, database)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- every command: parser, help, and bad schema names refused before any SQL ---------------

COMMANDS = [
    "migrate_schemas",
    "create_tenant",
    "list_tenants",
    "delete_tenant",
    "tenant_command",
    "create_tenant_superuser",
    "suspend_tenant",
    "activate_tenant",
]


@pytest.mark.parametrize("name", COMMANDS)
def test_help_text(name):
    command = load_command_class(get_commands()[name], name)
    text = command.create_parser("manage.py", name).format_help()
    assert command.help.split()[0] in text
    assert text.count("--") > 3


def bad_name_calls(name: str) -> list[tuple[tuple[str, ...], dict[str, object]]]:
    calls: list[tuple[tuple[str, ...], dict[str, object]]] = [
        (
            ("create_tenant", "--schema", name, "--name", "X", "--domain", "x.test", "--noinput"),
            {},
        ),
        (("delete_tenant", "--schema", name, "--noinput"), {}),
        (("suspend_tenant", "--schema", name), {}),
        (("activate_tenant", "--schema", name), {}),
        (
            (
                "create_tenant_superuser",
                "--schema",
                name,
                "--username",
                "u",
                "--email",
                "u@x.test",
                "--noinput",
            ),
            {},
        ),
    ]
    if name != tenancy_settings.PUBLIC_SCHEMA:  # both accept the public schema on purpose
        calls.append((("migrate_schemas", "--schema", name), {}))
        calls.append((("tenant_command", "notes_info", "--schema", name), {}))
    return calls


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_schema_names_refused_before_any_sql(db, name):
    schemas = list_schemas()
    for args, options in bad_name_calls(name):
        with CaptureQueriesContext(connection) as queries, pytest.raises(CommandError) as info:
            run(*args, **options)
        assert queries.captured_queries == [], args
        assert "schema name" in str(info.value).lower() or "reserved" in str(info.value), args
    assert list_schemas() == schemas
    with public_context():
        assert not Tenant.objects.exists()


def test_bad_schema_name_on_command_line_no_traceback():
    result = manage(
        "create_tenant", "--schema", "Robert'); DROP SCHEMA public;--", "--name", "x",
        "--domain", "x.test", "--noinput",
    )  # fmt: skip
    assert result.returncode != 0
    assert "CommandError" in result.stderr and "Invalid schema name" in result.stderr
    assert "Traceback" not in result.stderr


# --- create_tenant / list_tenants / delete_tenant ---------------------------------------------


@pytest.fixture
def committed_schemas(transactional_db):
    """Schema names a test creates through the commands (committed); removed afterwards."""
    names: list[str] = []
    yield names
    with public_context():
        Tenant.objects.filter(schema_name__in=names).delete()
        for name in names:
            drop_schema(name, missing_ok=True)


def test_create_list_delete_round_trip(committed_schemas):
    # Committed: dropping a schema in the transaction that filled it trips on PostgreSQL's
    # pending deferred-constraint triggers, which a real command run never meets.
    committed_schemas.extend(["acme", "globex"])
    out = run(
        "create_tenant", "--schema", "acme", "--name", "Acme Inc.", "--domain", "acme.example.com",
        "--noinput",
    )  # fmt: skip
    assert "Created tenant 'Acme Inc.'" in out and "acme.example.com" in out
    assert schema_exists("acme") and table_exists("acme", "notes_note")
    run("create_tenant", "--schema", "globex", "--name", "Globex", "--no-domain", "--noinput")

    rows = json.loads(run("list_tenants", "--format", "json"))
    assert rows == [
        {
            "schema_name": "acme",
            "name": "Acme Inc.",
            "status": "active",
            "primary_domain": "acme.example.com",
        },
        {"schema_name": "globex", "name": "Globex", "status": "active", "primary_domain": None},
    ]
    table = run("list_tenants")
    assert table.splitlines()[0].split() == ["SCHEMA", "NAME", "STATUS", "PRIMARY", "DOMAIN"]
    assert "acme.example.com" in table and "(2 tenants)" in table

    with public_context():
        Tenant.objects.filter(schema_name="globex").update(status=TenantStatus.SUSPENDED)
    suspended = json.loads(run("list_tenants", "--format", "json", "--status", "suspended"))
    assert [row["schema_name"] for row in suspended] == ["globex"]

    out = run("delete_tenant", "--schema", "acme", "--noinput")
    assert "Deleted tenant 'acme' and dropped its schema" in out
    assert not schema_exists("acme")
    run("delete_tenant", "--schema", "globex", "--noinput")
    assert run("list_tenants") == "No tenants.\n"
    assert json.loads(run("list_tenants", "--format", "json")) == []


def test_create_tenant_prompts_on_a_terminal(db):
    answers = FakeTerminal("Bad Name\nacme\nAcme\nacme.test\n")
    err = io.StringIO()
    out = io.StringIO()
    call_command("create_tenant", stdin=answers, stdout=out, stderr=err)
    assert "Invalid schema name 'Bad Name'" in err.getvalue()
    assert out.getvalue().count("Schema name: ") == 2
    with public_context():
        tenant = Tenant.objects.get(schema_name="acme")
    assert tenant.name == "Acme" and tenant.domains.get().domain == "acme.test"


def test_create_tenant_missing_values_without_terminal(db):
    schemas = list_schemas()
    with pytest.raises(CommandError, match="--name is required"):
        run("create_tenant", "--schema", "acme", "--domain", "acme.test")  # stdin not a TTY
    with pytest.raises(CommandError, match="--domain is required"):
        run("create_tenant", "--schema", "acme", "--name", "A", "--noinput", stdin=FakeTerminal())
    with pytest.raises(CommandError, match="host name"):
        run("create_tenant", "--schema", "acme", "--name", "A", "--domain", "http://x/")
    assert list_schemas() == schemas


def test_create_tenant_errors(db, make_tenant):
    make_tenant("acme")
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", "--schema", "acme", "--name", "A", "--domain", "a2.test", "--noinput")
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", "--schema", "other", "--name", "O", "--domain", "acme.test")

    create_schema("orphan")
    with pytest.raises(CommandError, match="schema 'orphan' already exists"):
        run("create_tenant", "--schema", "orphan", "--name", "O", "--domain", "o.test", "--noinput")

    def broken_handler(sender, **kwargs):  # a real post-migrate handler that fails
        raise RuntimeError("disk on fire")

    post_migrate.connect(broken_handler, dispatch_uid="broken_handler")
    try:
        with pytest.raises(CommandError, match="failed while migrating the schema: disk on fire"):
            run(
                "create_tenant", "--schema", "broken", "--name", "B", "--domain", "b.test",
                "--noinput", "--migrate",
            )  # fmt: skip
    finally:
        post_migrate.disconnect(dispatch_uid="broken_handler")
    assert not schema_exists("broken")
    with public_context():
        assert sorted(Tenant.objects.values_list("schema_name", flat=True)) == ["acme"]


def test_suspend_and_activate(make_tenant):
    tenant = make_tenant("acme")
    assert "Suspended Acme (acme); every process stops serving it within" in run(
        "suspend_tenant", "--schema", "acme"
    )
    assert Tenant.objects.get(pk=tenant.pk).status == TenantStatus.SUSPENDED
    assert "was already suspended; nothing changed" in run("suspend_tenant", "--schema", "acme")
    assert "Activated Acme (acme)" in run("activate_tenant", "--schema", "acme")
    assert Tenant.objects.get(pk=tenant.pk).status == TenantStatus.ACTIVE
    Tenant.objects.filter(pk=tenant.pk).update(status=TenantStatus.FAILED)
    with pytest.raises(CommandError, match="not suspended, so it is not activated"):
        run("activate_tenant", "--schema", "acme")
    with pytest.raises(CommandError, match="only an active tenant can be suspended"):
        run("suspend_tenant", "--schema", "acme")
    assert Tenant.objects.get(pk=tenant.pk).status == TenantStatus.FAILED
    with pytest.raises(CommandError, match="No tenant with schema 'nosuch'"):
        run("suspend_tenant", "--schema", "nosuch")


def test_delete_tenant_confirmation(make_committed_tenant):
    make_committed_tenant("acme")
    with pytest.raises(CommandError, match="not running on a terminal"):
        run("delete_tenant", "--schema", "acme")
    with pytest.raises(CommandError, match="cancelled"):
        run("delete_tenant", "--schema", "acme", stdin=FakeTerminal("acm\n"))
    assert schema_exists("acme")

    out = run("delete_tenant", "--schema", "acme", "--keep-schema", stdin=FakeTerminal("acme\n"))
    assert "Type the schema name (acme) to confirm" in out and "kept its schema" in out
    assert schema_exists("acme")
    with public_context():
        assert not Tenant.objects.exists()
    drop_schema("acme")

    with pytest.raises(CommandError, match="No tenant with schema 'nobody'"):
        run("delete_tenant", "--schema", "nobody", "--noinput")


def test_delete_tenant_refuses_without_terminal_on_command_line(make_committed_tenant):
    make_committed_tenant("acme")
    result = manage("delete_tenant", "--schema", "acme")
    assert result.returncode != 0
    assert "Refusing to delete without confirmation" in result.stderr
    assert "Traceback" not in result.stderr
    assert schema_exists("acme")
    with public_context():
        assert Tenant.objects.filter(schema_name="acme").exists()


# --- migrate_schemas --------------------------------------------------------------------------


def test_migrate_schemas_backwards_and_forwards(make_tenant):
    for name in ("beta", "alpha", "gamma"):
        make_tenant(name)
    tenants = ["alpha", "beta", "gamma"]

    out = run("migrate_schemas", "notes", "zero")
    lines = out.splitlines()
    assert lines[:5] == [
        "[1/5] public ... ok",
        "[2/5] tenancy_template ... ok",
        "[3/5] alpha ... ok",
        "[4/5] beta ... ok",
        "[5/5] gamma ... ok",
    ]
    assert "Migrated 5 of 5 schemas; none failed." in out
    assert not any(table_exists(name, "notes_note") for name in tenants)
    assert table_exists("alpha", "auth_user")  # other apps untouched

    run("migrate_schemas")
    assert all(table_exists(name, "notes_note") for name in tenants)
    assert not table_exists("public", "notes_note")  # tenant apps never reach the shared schema


@pytest.fixture
def fresh_database(django_db_blocker):
    """The name of a new, empty database on the test server; dropped afterwards."""
    name = f"test_tenancy_fresh_{os.getpid()}"
    settings = connection.settings_dict
    params = {
        "host": settings["HOST"] or None,
        "port": settings["PORT"] or None,
        "user": settings["USER"] or None,
        "password": settings["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with django_db_blocker.unblock(), psycopg.connect(**params) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with django_db_blocker.unblock(), psycopg.connect(**params) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_first_run_on_a_fresh_database(fresh_database):
    result = manage("migrate_schemas", database=fresh_database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "[1/1] public ... ok"

    result = manage(
        "create_tenant", "--schema", "acme", "--name", "Acme", "--domain", "acme.test",
        database=fresh_database,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    result = manage("migrate_schemas", "--noinput", database=fresh_database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "[1/3] public ... ok",
        "[2/3] tenancy_template ... ok",  # made by create_tenant, copied into acme
        "[3/3] acme ... ok",
    ]


def test_migrate_schemas_selection(make_tenant):
    make_tenant("alpha")
    make_tenant("beta")

    out = run("migrate_schemas", "--schema", "alpha", "notes", "zero")
    assert out.splitlines()[0] == "[1/1] alpha ... ok"
    assert not table_exists("alpha", "notes_note") and table_exists("beta", "notes_note")

    def schema_lines(out: str) -> list[str]:
        return [line.split(" ... ")[0] for line in out.splitlines() if line.startswith("[")]

    out = run("migrate_schemas", "--shared", "notes", "zero")
    assert schema_lines(out) == ["[1/1] public"]
    assert table_exists("beta", "notes_note")

    out = run("migrate_schemas", "--tenants")
    assert schema_lines(out) == [
        "[1/3] tenancy_template",
        "[2/3] alpha",
        "[3/3] beta",
    ]
    assert table_exists("alpha", "notes_note")

    out = run("migrate_schemas", "-s", "beta", "--schema", "public", "--schema", "alpha")
    assert schema_lines(out) == [
        "[1/3] public",
        "[2/3] alpha",
        "[3/3] beta",
    ]

    with pytest.raises(CommandError, match="No tenant with schema 'nobody'"):
        run("migrate_schemas", "--schema", "nobody")

    out = run("migrate_schemas", "--schema", "alpha", "--plan")
    assert "1 schema (alpha):" in out and "Planned operations" in out


def test_migrate_schemas_check_and_bad_app_label(make_tenant):
    make_tenant("alpha")
    make_tenant("beta")
    assert "All 4 schemas are up to date." in run("migrate_schemas", "--check")  # + template
    run("migrate_schemas", "--schema", "beta", "notes", "zero")
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of 4 schemas are not up to date: beta"):
        call_command("migrate_schemas", "--check", stdout=out, stderr=io.StringIO())
    assert "[4/4] beta ... FAILED (unapplied migrations)" in out.getvalue()
    assert not table_exists("beta", "notes_note")  # --check applies nothing

    with CaptureQueriesContext(connection) as queries, pytest.raises(CommandError, match="nope"):
        run("migrate_schemas", "nope", "zero")
    assert queries.captured_queries == []


def test_migrate_schemas_includes_existing_template_schema(make_tenant):
    make_tenant("alpha")
    drop_schema(tenancy_settings.TEMPLATE_SCHEMA)
    out = run("migrate_schemas", "--tenants")
    assert tenancy_settings.TEMPLATE_SCHEMA not in out
    create_schema(tenancy_settings.TEMPLATE_SCHEMA)
    out = run("migrate_schemas", "--tenants")
    assert out.splitlines()[0] == f"[1/2] {tenancy_settings.TEMPLATE_SCHEMA} ... ok"
    assert table_exists(tenancy_settings.TEMPLATE_SCHEMA, "notes_note")


def test_migrate_schemas_failing_tenants_do_not_stop_the_others(make_committed_tenant):
    for name in ("alpha", "beta", "gamma", "delta"):
        make_committed_tenant(name)
    drop_schema("beta")  # a registered tenant whose schema is gone
    run("migrate_schemas", "--schema", "gamma", "notes", "zero")
    with tenant_context(Tenant.objects.get(schema_name="gamma")), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE notes_note (id integer)")  # conflicts with 0001

    with pytest.raises(CommandError, match="1 of 6 schemas failed to migrate: beta"):
        run("migrate_schemas", "notes", "zero")  # delta still goes back after beta failed
    assert not table_exists("delta", "notes_note")

    result = manage("migrate_schemas")
    assert result.returncode != 0
    lines = result.stdout.splitlines()
    assert "[1/6] public ... ok" in lines
    assert "[2/6] tenancy_template ... ok" in lines
    assert "[3/6] alpha ... ok" in lines
    assert "[4/6] beta ... FAILED" in lines
    assert "[5/6] delta ... ok" in lines
    assert "[6/6] gamma ... FAILED" in lines
    assert "Migrated 4 of 6 schemas; 2 failed:" in lines
    assert "beta: The schema 'beta' does not exist." in result.stderr
    assert 'gamma: ProgrammingError: relation "notes_note" already exists' in result.stderr
    assert "CommandError: 2 of 6 schemas failed to migrate: beta, gamma." in result.stderr
    assert "Traceback" not in result.stderr
    assert table_exists("delta", "notes_note")  # migrated after the failure of beta


# --- tenant_command ---------------------------------------------------------------------------


def test_tenant_command_one_and_all(make_tenant):
    alpha = make_tenant("alpha")
    make_tenant("beta")
    with tenant_context(alpha):
        Note.objects.create(title="a")

    assert run("tenant_command", "notes_info", "--schema", "alpha") == (
        "schema=alpha tenant=alpha notes=1\n"
    )
    out = run("tenant_command", "notes_info", "--add", "b1", schema_name="beta")
    assert out == "schema=beta tenant=beta notes=1\n"
    with pytest.raises(CommandError, match="asked to fail in public"):
        run("tenant_command", "--schema", "public", "notes_info", "--fail-in", "public")

    out = run("tenant_command", "notes_info", "--all")
    assert out.splitlines() == [
        "[1/2] alpha",
        "schema=alpha tenant=alpha notes=1",
        "[2/2] beta",
        "schema=beta tenant=beta notes=1",
        "Ran 'notes_info' in 2 tenants; none failed.",
    ]
    assert not table_exists("public", "notes_note")


def test_tenant_command_continues_after_a_failure(make_tenant):
    make_tenant("alpha")
    make_tenant("beta")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"'notes_info' failed in 1 of 2 tenants: alpha\."):
        call_command(
            "tenant_command", "notes_info", "--fail-in", "alpha", "--add", "x", "--all",
            stdout=out, stderr=err,
        )  # fmt: skip
    assert "alpha: asked to fail in alpha" in err.getvalue()
    assert "schema=beta tenant=beta notes=1" in out.getvalue()


def test_tenant_command_exclude(make_tenant):
    for name in ("alpha", "beta", "gamma"):
        make_tenant(name)
    out = run("tenant_command", "notes_info", "--all", "--exclude", "beta", "--exclude=gamma")
    assert "schema=alpha" in out and "beta" not in out and "gamma" not in out
    assert "Ran 'notes_info' in 1 tenants; none failed." in out
    # before COMMAND too, and by keyword
    out = run("tenant_command", "--all", "--exclude", "alpha", "notes_info")
    assert "schema=alpha" not in out and "schema=beta" in out and "schema=gamma" in out
    out = run("tenant_command", "notes_info", all_tenants=True, exclude=["alpha", "beta"])
    assert [line for line in out.splitlines() if line.startswith("schema=")] == [
        "schema=gamma tenant=gamma notes=0"
    ]


def test_tenant_command_jobs_runs_tenants_at_the_same_time(make_committed_tenant):
    make_committed_tenant("alpha")
    make_committed_tenant("beta")
    # Each run waits for another to arrive: one at a time, the first would wait alone.
    out = run("tenant_command", "notes_info", "--rendezvous", "--all", "--jobs", "2")
    assert sorted(line for line in out.splitlines() if line.startswith("schema=")) == [
        "schema=alpha tenant=alpha notes=0",
        "schema=beta tenant=beta notes=0",
    ]
    lines = out.splitlines()
    # Each tenant's output follows its own heading, whichever ended first.
    for heading in (index for index, line in enumerate(lines) if line.startswith("[")):
        assert lines[heading + 1].startswith(f"schema={lines[heading].split()[1]} ")
    assert lines[-1] == "Ran 'notes_info' in 2 tenants; none failed."


def test_tenant_command_jobs_isolates_a_failing_tenant(make_committed_tenant):
    for name in ("alpha", "beta", "gamma", "delta"):
        make_committed_tenant(name)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"'notes_info' failed in 1 of 4 tenants: beta\.$"):
        call_command(
            "tenant_command", "notes_info", "--add", "x", "--fail-in", "beta", "--all",
            "--jobs", "3", stdout=out, stderr=err,
        )  # fmt: skip
    assert "beta: asked to fail in beta" in err.getvalue()
    assert "Ran 'notes_info' in 4 tenants: 3 succeeded, 1 failed." in out.getvalue()
    for name in ("alpha", "gamma", "delta"):
        assert f"schema={name} tenant={name} notes=1" in out.getvalue()
    with schema_context("beta"):
        assert not Note.objects.exists()  # its run stopped before adding the note


def test_tenant_command_from_the_command_line_exits_non_zero_when_a_tenant_fails(
    make_committed_tenant,
):
    make_committed_tenant("alpha")
    make_committed_tenant("beta")
    result = manage("tenant_command", "notes_info", "--all", "--jobs", "2", "--fail-in", "alpha")
    assert result.returncode == 1
    assert "alpha: asked to fail in alpha" in result.stderr
    assert "schema=beta tenant=beta notes=0" in result.stdout
    assert "Traceback" not in result.stderr


def test_tenant_command_refusals(make_tenant):
    make_tenant("alpha")
    cases = [
        (("tenant_command", "migrate", "--schema", "alpha"), "migrate_schemas"),
        (("tenant_command", "flush", "--noinput", "--all"), "with --all"),
        (("tenant_command", "no_such_command", "--all"), "Unknown command"),
        (("tenant_command", "notes_info"), "--schema NAME or --all"),
        (("tenant_command", "notes_info", "--schema", "alpha", "--all"), "not both"),
        (("tenant_command", "notes_info", "--bogus", "--all"), "unrecognized arguments"),
        (("tenant_command", "notes_info", "--schema", "nobody"), "No tenant with schema"),
        (("tenant_command", "notes_info", "--all", "--exclude", "nobody"), "names no tenant"),
        (("tenant_command", "notes_info", "--schema", "alpha", "--jobs", "2"), "go with --all"),
        (("tenant_command", "notes_info", "--all", "--jobs", "0"), "at least 1"),
        (("tenant_command", "notes_info", "--all", "--jobs=x"), "needs a number"),
        (("tenant_command", "notes_info", "--all", "--exclude", "Bad-Name"), "schema name"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            run(*args)


def test_tenant_command_refuses_a_tenant_without_schema(make_committed_tenant):
    make_committed_tenant("alpha")
    drop_schema("alpha")
    with pytest.raises(CommandError, match="does not exist"):
        run("tenant_command", "notes_info", "--schema", "alpha")


# --- create_tenant_superuser ------------------------------------------------------------------


def test_create_tenant_superuser_only_in_that_tenant(make_tenant, monkeypatch):
    alpha = make_tenant("alpha")
    beta = make_tenant("beta")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "s3cret-Pass")
    out = run(
        "create_tenant_superuser", "--schema", "alpha", "--username", "boss",
        "--email", "boss@alpha.test", "--noinput",
    )  # fmt: skip
    assert "Superuser created successfully." in out
    User = get_user_model()
    with tenant_context(alpha):
        user = User.objects.get(username="boss")
        assert user.is_superuser and user.check_password("s3cret-Pass")
    with tenant_context(beta):
        assert not User.objects.exists()
    with public_context():
        assert not User.objects.exists()

    with pytest.raises(CommandError, match="already taken"):
        run(
            "create_tenant_superuser", "--schema", "alpha", "--username", "boss",
            "--email", "b@alpha.test", "--noinput",
        )  # fmt: skip
    with pytest.raises(CommandError, match=r"(?i)not running on a terminal"):
        run("create_tenant_superuser", "--schema", "beta", "--username", "x", "--email", "x@b.test")
    with pytest.raises(CommandError, match="No tenant with schema 'nobody'"):
        run(
            "create_tenant_superuser", "--schema", "nobody", "--username", "x",
            "--email", "x@n.test", "--noinput",
        )  # fmt: skip
