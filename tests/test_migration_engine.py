"""The migrate_schemas engine against a real PostgreSQL: skipping, failures, resume, workers."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from psycopg import sql

from tenancy_app.context import public_context, schema_context
from tenancy_app.migrator import MigrationRun, Outcome, migrate_schemas
from tenancy_app.migrator.runner import RunSettings, SchemaJob, run_schema
from tenancy_app.migrator.states import StateCache
from tenancy_app.models import SchemaMigrationResult, TenantBase
from tests.test_commands import manage, table_exists

INVENTORY_LAST = "0010_product_is_active"
MakeTenant = Callable[..., TenantBase]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str, **options: object) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def run_failing(*args: str, **options: object) -> tuple[str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("migrate_schemas", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue(), str(info.value)


def recorded(schema: str, app: str = "inventory") -> list[str]:
    with public_context(), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT name FROM {}.django_migrations WHERE app = %s ORDER BY name").format(
                sql.Identifier(schema)
            ),
            [app],
        )
        return [row[0] for row in cursor.fetchall()]


def summary(out: str) -> dict[str, int]:
    """The final table's counts: {"migrated": 1, "skipped": 3, ...}."""
    counts = {}
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Summary"))
    for line in lines[start + 1 : start + 5]:
        words = line.split()
        counts[words[0] if words[0] != "up" else "up to date"] = int(
            words[1] if words[0] != "up" else words[3]
        )
    return counts


def catalog(schema: str) -> dict[str, list[tuple[object, ...]]]:
    """What a schema holds, with its own name taken out (to compare two schemas)."""
    queries = {
        "columns": """
            SELECT table_name, column_name, data_type, is_nullable, column_default
              FROM information_schema.columns WHERE table_schema = %s
             ORDER BY table_name, column_name""",
        "indexes": """
            SELECT tablename, indexname, indexdef FROM pg_catalog.pg_indexes
             WHERE schemaname = %s ORDER BY tablename, indexname""",
        "constraints": """
            SELECT conrelid::regclass::text, conname, pg_catalog.pg_get_constraintdef(c.oid)
              FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_namespace n
                ON n.oid = c.connamespace
             WHERE n.nspname = %s ORDER BY 1, 2""",
        "migrations": "SELECT app, name FROM {schema}.django_migrations ORDER BY app, name",
        "content_types": "SELECT app_label, model FROM {schema}.django_content_type ORDER BY 1, 2",
        "permissions": "SELECT codename FROM {schema}.auth_permission ORDER BY 1",
        "categories": "SELECT slug FROM {schema}.inventory_category ORDER BY 1",
    }
    result = {}
    with public_context(), connection.cursor() as cursor:
        for name, query in queries.items():
            if "{schema}" in query:
                cursor.execute(query.format(schema=f'"{schema}"'))
            else:
                cursor.execute(query, [schema])
            rows = cursor.fetchall()
            result[name] = [
                tuple(str(v).replace(f"{schema}.", "S.") if v is not None else None for v in row)
                for row in rows
            ]
    return result


# --- skipping: a no-op run does constant work ---------------------------------------------------


def test_noop_run_is_a_constant_number_of_queries(make_tenant):
    for name in ("alpha", "beta"):
        make_tenant(name)
    run()  # the shared schema is up to date too
    with CaptureQueriesContext(connection) as two:
        out, _ = run()
    for name in ("gamma", "delta", "epsilon", "zeta"):
        make_tenant(name)
    with CaptureQueriesContext(connection) as six:
        out, _ = run()
    assert len(six.captured_queries) == len(two.captured_queries) <= 8
    statements = " ".join(query["sql"] for query in six.captured_queries)
    assert "search_path" not in statements  # no tenant schema was entered
    # public, the template schema and six tenants
    assert summary(out) == {"migrated": 0, "skipped": 8, "failed": 0, "total": 8}
    assert "[8/8] zeta ... ok" in out.splitlines()


def test_applied_sets_are_read_in_batches(make_tenant):
    from tenancy_app.migrator.applied import read_applied

    for name in ("alpha", "beta", "gamma"):
        make_tenant(name)
    with schema_context("beta"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'inventory'")
    with CaptureQueriesContext(connection) as queries:
        states = read_applied(["alpha", "beta", "gamma", "nowhere"], batch_size=2)
    statements = [q["sql"] for q in queries.captured_queries if "search_path" not in q["sql"]]
    assert len(statements) == 3  # the catalog, then two batches
    assert states["alpha"] is states["gamma"]  # same state: parsed once, shared
    assert ("inventory", INVENTORY_LAST) in states["alpha"].recorded
    assert not any(app == "inventory" for app, _ in states["beta"].recorded)
    assert not states["nowhere"].exists


# --- failures, rollback and resume --------------------------------------------------------------


@pytest.fixture
def four_tenants(make_committed_tenant: MakeTenant) -> list[str]:
    names = ["alpha", "beta", "gamma", "delta"]
    for name in names:
        make_committed_tenant(name)
    return sorted(names)


def only(names: list[str]) -> list[str]:
    """--schema options for these schemas (committed tests leave the template alone)."""
    return [arg for name in names for arg in ("--schema", name)]


def test_a_failing_schema_is_rolled_back_and_the_others_go_on(four_tenants):
    schemas = ["public", *four_tenants]
    run(*only(four_tenants), "inventory", "0003", "--jobs", "2")
    assert not any(table_exists(name, "inventory_stocklevel") for name in four_tenants)

    with override_settings(INVENTORY_FAIL_IN_SCHEMAS=["beta"]):
        out, err, error = run_failing(*only(schemas), "--jobs", "2")
    assert "1 of 5 schemas failed to migrate: beta" in error
    assert "beta: RuntimeError: seed_categories asked to fail in beta" in err
    assert "[3/5] beta ... FAILED" in out.splitlines()
    assert summary(out) == {"migrated": 3, "skipped": 1, "failed": 1, "total": 5}

    # beta: 0004 (a new table) ran before 0005 failed; both are gone, rows included
    assert not table_exists("beta", "inventory_stocklevel")
    assert recorded("beta") == ["0001_initial", "0002_supplier", "0003_warehouse"]
    for name in ("alpha", "delta", "gamma"):
        assert table_exists(name, "inventory_stockmovement")
        assert recorded(name)[-1] == INVENTORY_LAST

    with public_context():
        rows = {row.schema_name: row for row in SchemaMigrationResult.objects.all()}
    assert rows["beta"].status == "failed" and "asked to fail in beta" in rows["beta"].error
    assert rows["beta"].applied == 0 and rows["beta"].pending == 7
    assert rows["alpha"].status == "ok" and rows["alpha"].applied == 7
    assert rows["alpha"].pending == 0 and rows["alpha"].finished_at >= rows["alpha"].started_at
    assert rows["public"].status == "ok" and rows["public"].applied == 0

    # The cause is fixed: a rerun touches beta only.
    out, _ = run(*only(schemas), "--jobs", "2", "-v", "2")
    assert summary(out) == {"migrated": 1, "skipped": 4, "failed": 0, "total": 5}
    assert f"  Applied inventory.{INVENTORY_LAST}" in out
    assert out.count("Applied inventory.0004_stocklevel") == 1
    assert table_exists("beta", "inventory_stocklevel")
    assert catalog("beta") == catalog("alpha")
    with public_context():
        assert SchemaMigrationResult.objects.get(schema_name="beta").status == "ok"


def test_a_conflicting_table_fails_its_schema_only(make_tenant):
    for name in ("alpha", "beta"):
        make_tenant(name)
    run("-s", "alpha", "-s", "beta", "inventory", "0006")
    with schema_context("alpha"), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE inventory_stockmovement (id integer)")
    _, err, _ = run_failing("-s", "alpha", "-s", "beta")
    assert 'alpha: ProgrammingError: relation "inventory_stockmovement" already exists' in err
    assert recorded("alpha")[-1] == "0006_product_created_at"
    assert recorded("beta")[-1] == INVENTORY_LAST


# --- --check, --plan, backwards, --fake ---------------------------------------------------------


def test_check_exit_status_and_changes_nothing(four_tenants):
    result = manage("migrate_schemas", "--check")
    assert result.returncode == 0, result.stderr
    assert "All 6 schemas are up to date." in result.stdout  # public, template, 4 tenants

    run("--schema", "gamma", "inventory", "0008")
    before = {name: recorded(name) for name in four_tenants}
    result = manage("migrate_schemas", "--check")
    assert result.returncode != 0
    assert "[6/6] gamma ... FAILED (unapplied migrations)" in result.stdout.splitlines()
    assert "1 of 6 schemas are not up to date: gamma" in result.stderr
    assert {name: recorded(name) for name in four_tenants} == before

    result = manage("migrate_schemas", "--plan", "--check")
    assert result.returncode != 0
    assert "1 schema (gamma):" in result.stdout


def test_plan_by_group(make_tenant):
    for name in ("alpha", "beta", "gamma"):
        make_tenant(name)
    run("--schema", "beta", "inventory", "0008")
    run("--schema", "gamma", "inventory", "0008")
    before = {name: recorded(name) for name in ("alpha", "beta", "gamma")}
    out, _ = run("--tenants", "--plan")
    lines = out.splitlines()
    assert lines[0].startswith("Planned operations")
    heading = "2 schemas (tenancy_template, alpha):"
    assert lines[lines.index(heading) + 1] == "  No planned migration operations."
    group = lines.index("2 schemas (beta, gamma):")
    assert lines[group + 1 : group + 5] == [
        "  inventory.0009_category_description",
        "    Add field description to category",
        f"  inventory.{INVENTORY_LAST}",
        "    Add field is_active to product",
    ]
    assert {name: recorded(name) for name in ("alpha", "beta", "gamma")} == before

    out, _ = run("--tenants", "--plan", "inventory", "0004")
    assert "2 schemas (beta, gamma):" in out  # two states, two groups
    assert "    Undo Add field description to category" in out
    assert "    Raw Python operation -> A data migration with histor..." not in out


def test_backwards_across_tenants_then_forwards(make_tenant):
    names = ["alpha", "beta", "gamma"]
    for name in names:
        make_tenant(name)
    reference = catalog("alpha")
    out, _ = run(*only(names), "inventory", "zero")
    assert summary(out) == {"migrated": 3, "skipped": 0, "failed": 0, "total": 3}
    for name in names:
        assert not table_exists(name, "inventory_product")
        assert recorded(name) == []
        assert table_exists(name, "auth_user")  # other apps untouched
    # The shared schema holds the inventory rows Django records (the router keeps its
    # tables out), and going backwards there is Django's own migrate.
    run("--shared", "inventory", "zero")
    assert recorded("public") == []

    out, _ = run(*only(["public", *names]))
    assert summary(out) == {"migrated": 4, "skipped": 0, "failed": 0, "total": 4}
    for name in names:
        assert catalog(name) == reference  # the data migration ran again, too
    assert not table_exists("public", "inventory_product")


def test_fake_records_without_running(make_tenant):
    make_tenant("alpha")
    run("--schema", "alpha", "inventory", "0005", "--fake")
    assert recorded("alpha")[-1] == "0005_seed_categories"
    assert table_exists("alpha", "inventory_stockmovement")  # nothing was dropped
    run("--schema", "alpha", "--fake")
    assert recorded("alpha")[-1] == INVENTORY_LAST


# --- post_migrate only where something changed --------------------------------------------------


def test_post_migrate_runs_only_in_changed_schemas(make_tenant):
    for name in ("alpha", "beta"):
        make_tenant(name)
    for name in ("alpha", "beta"):
        with schema_context(name):
            ContentType.objects.filter(app_label="inventory").delete()  # permissions cascade
    run()  # everything up to date: no handler runs anywhere
    with schema_context("alpha"):
        assert not ContentType.objects.filter(app_label="inventory").exists()

    # Fields only (0009, 0010 add fields): no model changes, so no handler runs.
    run("--schema", "alpha", "inventory", "0008")
    run("-s", "alpha", "-s", "beta")
    with schema_context("alpha"):
        assert not ContentType.objects.filter(app_label="inventory").exists()

    # A model comes back (0007 creates StockMovement): the app's handlers run, there only.
    run("--schema", "alpha", "inventory", "0006")
    run("-s", "alpha", "-s", "beta")
    with schema_context("alpha"):
        assert ContentType.objects.filter(app_label="inventory").count() == 6
        assert Permission.objects.filter(content_type__app_label="inventory").count() == 24
        assert ContentType.objects.filter(app_label="notes").exists()
    with schema_context("beta"):
        assert not ContentType.objects.filter(app_label="inventory").exists()


# --- workers ------------------------------------------------------------------------------------


def test_jobs_2_gives_the_same_result_as_jobs_1(four_tenants):
    reference = {name: catalog(name) for name in four_tenants}  # made by Django's migrate
    for jobs in ("1", "2"):
        run(*only(four_tenants), "inventory", "0001", "--jobs", jobs)
        out, _ = run(*only(four_tenants), "--jobs", jobs)
        assert summary(out) == {"migrated": 4, "skipped": 0, "failed": 0, "total": 4}
        assert {name: catalog(name) for name in four_tenants} == reference


def test_states_are_not_mutated_by_the_per_schema_runs(make_tenant):
    names = ["alpha", "beta", "gamma"]
    for name in names:
        make_tenant(name)
    run(*only(names), "inventory", "0002")
    migration_run = MigrationRun(names)
    [group] = migration_run.groups
    cache = StateCache()
    steps = cache.steps(group)
    snapshot = [
        (op.from_state.clone(), op.to_state.clone()) for step in steps for op in step.operations
    ]
    assert len(snapshot) == 8  # 0003 to 0010: one operation each
    settings = RunSettings(using="default")
    for position, name in enumerate(names, start=1):
        job = SchemaJob(position, name, migration_run.states[name], group)
        result = run_schema(job, cache, settings)
        assert result.outcome is Outcome.MIGRATED, result.error
        assert cache.steps(group) is steps  # rendered once for the whole group
    after = [(op.from_state, op.to_state) for step in steps for op in step.operations]
    assert [(a.models, b.models) for a, b in after] == [(a.models, b.models) for a, b in snapshot]


# --- progress -----------------------------------------------------------------------------------


def test_progress_lines_without_a_terminal(make_tenant):
    for name in ("beta", "alpha"):
        make_tenant(name)
    run("--schema", "beta", "inventory", "0009")
    out, _ = run(*only(["public", "alpha", "beta"]))
    lines = out.splitlines()
    assert lines[:3] == ["[1/3] public ... ok", "[2/3] alpha ... ok", "[3/3] beta ... ok"]
    assert lines[3:] == [
        "Summary:",
        "  migrated   1",
        "  skipped    2  (already up to date)",
        "  failed     0",
        "  total      3",
        "Migrated 3 of 3 schemas; none failed.",
    ]
    out, _ = run(*only(["public", "alpha", "beta"]), verbosity=0)
    assert out == ""


def test_progress_bar_on_a_terminal(make_tenant):
    make_tenant("alpha")
    out = FakeTerminal()
    call_command("migrate_schemas", "-s", "public", "-s", "alpha", stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert "\r[" in text and "2/2 schemas" in text and "/s" in text
    assert "[1/2] public ... ok" not in text


def test_engine_api_returns_results_in_order(make_tenant):
    make_tenant("alpha")
    results = migrate_schemas(["public", "alpha", "nowhere"])
    assert [(r.schema_name, r.outcome) for r in results] == [
        ("public", Outcome.SKIPPED),
        ("alpha", Outcome.SKIPPED),
        ("nowhere", Outcome.FAILED),
    ]
    assert results[2].error == "The schema 'nowhere' does not exist."


def test_the_template_brought_up_to_date_by_provisioning_after_planning_is_skipped(db):
    """A sign-up migrates the template between the run's planning and its template job.

    The engine takes the template lock provisioning takes and reads the template's
    state again under it: the template is found done, not migrated a second time.
    """
    from tenancy_app.template_schema import clear_template_cache, ensure_template

    template = "tenancy_template"
    run("--schema", template, "notes", "zero")
    clear_template_cache()
    planned = MigrationRun([template])
    assert planned.pending
    assert ensure_template()  # what provisioning does before a sign-up is copied
    results = planned.execute(stdout=io.StringIO())
    assert [(r.schema_name, r.outcome, r.error) for r in results] == [
        (template, Outcome.SKIPPED, "")
    ]
    assert recorded(template, "notes") == ["0001_initial"]


# --- leases: verified in bulk, not per schema --------------------------------------------------


def test_the_schemas_to_migrate_are_verified_in_one_query_not_one_each(make_tenant, monkeypatch):
    """Before a schema's first statement its lease must be valid (tenancy_app.leases);
    migrate_schemas verifies all of them at once rather than one round trip each."""
    from tenancy_app import leases
    from tenancy_app.backends.postgresql import base as backend
    from tenancy_app.migrator import workers

    names = ["alpha", "beta", "gamma"]
    for name in names:
        make_tenant(name)
    leases.revoke_all()  # as in a fresh process: nothing verified yet
    one_by_one: list[str] = []
    in_bulk: list[list[str]] = []

    def renew(wrapper, lease):
        one_by_one.append(lease.schema_name)
        return leases.renew(wrapper, lease)

    def renew_schemas(wrapper, schema_names):
        in_bulk.append(list(schema_names))
        return leases.renew_schemas(wrapper, schema_names)

    monkeypatch.setattr(backend, "renew", renew)
    monkeypatch.setattr(workers, "renew_schemas", renew_schemas)
    out, _ = run(*only(names), "inventory", "0009", "--jobs", "1")
    assert summary(out)["migrated"] == 3
    assert in_bulk == [names]
    assert not set(one_by_one) & set(names)
