"""check_tenants and the health view, on a database broken on purpose."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from tenancy_app.context import public_context, tenant_context
from tenancy_app.exceptions import InvalidSchemaName, TenantError
from tenancy_app.health import check_tenants, drop_orphan_schema, mark_missing_as_failed
from tenancy_app.models import Tenant, TenantStatus
from tenancy_app.schemas import create_schema, drop_schema, schema_exists
from tests.servers import create_scratch_database, database_url, default_server_params
from tests.servers import drop_database as drop
from tests.settings import TENANCY
from tests.test_commands import REPO_ROOT


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def execute(statement: Any, params: list[Any] | None = None) -> None:
    with public_context(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def run_command(*args: str, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("check_tenants", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def kinds(report: Any) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for problem in report.problems:
        found.setdefault(problem.kind, set()).add(problem.schema_name)
    return found


@pytest.fixture
def broken(make_tenant) -> dict[str, Any]:
    """Healthy 'good'; 'gone' lost its schema; 'orphan' has no tenant; 'stuck' never
    finished provisioning; 'bad' is failed; 'late' lacks a migration; a domain points
    at a tenant id that does not exist."""
    good = make_tenant("good")
    gone = make_tenant("gone")
    drop_schema("gone")
    create_schema("orphan")
    stuck = make_tenant("stuck")
    bad = make_tenant("bad")
    late = make_tenant("late")
    with public_context():
        Tenant.objects.filter(pk=stuck.pk).update(status=TenantStatus.PROVISIONING)
        Tenant.objects.filter(pk=bad.pk).update(status=TenantStatus.FAILED)
    execute("DELETE FROM late.django_migrations WHERE app = 'notes'")
    # A domain whose tenant row is gone (the foreign key's trigger is skipped on purpose).
    execute("SET session_replication_role = replica")
    execute(
        "INSERT INTO tenancy_app_domain (domain, tenant_id, is_primary) VALUES (%s, %s, true)",
        ["lost.test", 987654],
    )
    execute("SET session_replication_role = DEFAULT")
    return {"good": good, "gone": gone, "stuck": stuck, "bad": bad, "late": late}


def test_a_healthy_database_has_no_problems(make_tenant):
    make_tenant("acme")
    make_tenant("globex")
    report = check_tenants()
    assert report.ok, report.problems
    assert report.tenants == 2
    assert report.templates == {"tenancy_template": 0}
    out, _ = run_command()
    assert "No problems found." in out


def test_every_kind_of_problem_is_found(broken):
    report = check_tenants()
    assert kinds(report) == {
        "missing_schema": {"gone"},
        "stuck": {"stuck"},
        "failed": {"bad"},
        "behind": {"late"},
        "orphan_schema": {"orphan"},
        "orphan_domain": {""},
    }
    assert "lost.test" in report.of_kind("orphan_domain")[0].message
    assert "1 migration on disk" in report.of_kind("behind")[0].message


def test_the_command_exits_non_zero_and_prints_json(broken):
    with pytest.raises(CommandError, match="6 problems found in 5 tenants"):
        run_command("--format", "json")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_tenants", format="json", stdout=out, stderr=io.StringIO())
    data = json.loads(out.getvalue())
    assert data["ok"] is False
    assert data["counts"]["orphan_schema"] == 1
    assert {p["schema_name"] for p in data["problems"]} >= {"gone", "orphan", "late"}


def test_template_behind_is_reported(make_tenant):
    execute("DELETE FROM tenancy_template.django_migrations WHERE app = 'notes'")
    report = check_tenants()
    assert kinds(report) == {"template_behind": {"tenancy_template"}}
    assert report.templates == {"tenancy_template": 1}


def test_schemas_the_project_declares_unmanaged_or_extensions_own_are_not_orphans(db):
    create_schema("analytics")
    assert kinds(check_tenants()) == {"orphan_schema": {"analytics"}}
    with override_settings(TENANCY={**TENANCY, "UNMANAGED_SCHEMAS": ["analytics"]}):
        assert check_tenants().ok
    # A schema made by an extension's script (Citus, PostGIS topology) is the
    # extension's member, never an orphan.
    execute("CREATE SCHEMA ext_owned")
    execute("ALTER EXTENSION plpgsql ADD SCHEMA ext_owned")
    assert kinds(check_tenants()) == {"orphan_schema": {"analytics"}}


def test_the_number_of_statements_does_not_grow_with_the_tenants(make_tenant):
    make_tenant("t0")
    with CaptureQueriesContext(connection) as few:
        check_tenants()
    for number in range(1, 16):
        make_tenant(f"t{number}")
    drop_schema("t3")
    create_schema("orphan")
    with CaptureQueriesContext(connection) as many:
        report = check_tenants()
    assert report.tenants == 16 and not report.ok
    assert len(many.captured_queries) == len(few.captured_queries) <= 6


def test_fix_marks_tenants_without_schema_failed_and_nothing_else(broken):
    out = io.StringIO()
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_tenants", fix=True, stdout=out, stderr=err)
    assert "Marked tenant 'gone' failed" in err.getvalue()
    with public_context():
        statuses = dict(Tenant.objects.values_list("schema_name", "status"))
    assert statuses == {
        "good": TenantStatus.ACTIVE,
        "gone": TenantStatus.FAILED,
        "stuck": TenantStatus.PROVISIONING,
        "bad": TenantStatus.FAILED,
        "late": TenantStatus.ACTIVE,
    }
    assert schema_exists("orphan")  # never dropped without being named
    # Reported still (its schema is gone), but no longer fixable: nothing more to do.
    again = check_tenants()
    assert [p.fix for p in again.of_kind("missing_schema")] == [""]
    assert mark_missing_as_failed(again) == []


def test_drop_orphan_drops_only_a_named_orphan(broken):
    with pytest.raises(TenantError, match="belongs to a registered tenant"):
        drop_orphan_schema("good")
    with pytest.raises(InvalidSchemaName):
        drop_orphan_schema("public")
    with pytest.raises(InvalidSchemaName):
        drop_orphan_schema("tenancy_template")
    with pytest.raises(TenantError, match="no schema 'nothing'"):
        drop_orphan_schema("nothing")
    assert schema_exists("good")
    # Not on a terminal and without --noinput: refused.
    with pytest.raises(CommandError, match="without confirmation"):
        run_command("--drop-orphan", "orphan")
    assert schema_exists("orphan")
    with pytest.raises(CommandError, match="did not match"):
        run_command("--drop-orphan", "orphan", stdin=FakeTerminal("nope\n"))
    assert schema_exists("orphan")
    with pytest.raises(CommandError):  # other problems remain
        run_command("--drop-orphan", "orphan", stdin=FakeTerminal("orphan\n"))
    assert not schema_exists("orphan")
    assert "orphan_schema" not in kinds(check_tenants())


def test_drop_orphan_refuses_bad_names_before_any_sql(db):
    with CaptureQueriesContext(connection) as queries, pytest.raises(CommandError):
        run_command("--drop-orphan", "Robert'); DROP SCHEMA public;--", "--noinput")
    assert queries.captured_queries == []


# The view ------------------------------------------------------------------------------


@pytest.fixture
def staff_client(db) -> Client:
    with public_context():
        user = get_user_model().objects.create_user("ops", password="pw", is_staff=True)
    client = Client(HTTP_HOST="public.test")
    client.force_login(user)
    return client


URL = "/ops/tenants/health/"


def test_the_view_answers_staff_with_the_report(staff_client, make_tenant):
    make_tenant("acme")
    response = staff_client.get(URL)
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.json()["tenants"] == 1


def test_the_view_answers_503_when_something_is_wrong(staff_client, broken):
    response = staff_client.get(URL)
    assert response.status_code == 503
    assert response.json()["counts"]["missing_schema"] == 1


def test_the_view_refuses_anonymous_and_non_staff_users(db):
    assert Client(HTTP_HOST="public.test").get(URL).status_code == 403
    with public_context():
        user = get_user_model().objects.create_user("someone", password="pw")
    client = Client(HTTP_HOST="public.test")
    client.force_login(user)
    assert client.get(URL).status_code == 403


def test_the_view_is_never_served_inside_a_tenant(make_tenant):
    tenant = make_tenant("acme")
    with tenant_context(tenant):
        user = get_user_model().objects.create_user("boss", password="pw", is_staff=True)
    client = Client(HTTP_HOST="acme.test")
    with tenant_context(tenant):
        client.force_login(user)
    assert client.get(URL).status_code == 404


def test_the_view_costs_the_same_statements_for_more_tenants(staff_client, make_tenant):
    make_tenant("t0")
    with CaptureQueriesContext(connection) as few:
        staff_client.get(URL)
    for number in range(1, 8):
        make_tenant(f"t{number}")
    with CaptureQueriesContext(connection) as many:
        staff_client.get(URL)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_unmanaged_schemas_must_be_a_list():
    with override_settings(TENANCY={**TENANCY, "UNMANAGED_SCHEMAS": "analytics"}):
        assert "tenancy.E004" in {message.id for message in run_checks()}
        with pytest.raises(SystemCheckError, match=r"tenancy\.E004"):
            call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_help_describes_every_option():
    command = load_command_class(get_commands()["check_tenants"], "check_tenants")
    text = command.create_parser("manage.py", "check_tenants").format_help()
    for option in ("--format", "--fix", "--drop-orphan", "--noinput", "--database"):
        assert option in text


def test_before_the_shared_schema_is_migrated_it_says_what_to_do(django_db_blocker):
    with django_db_blocker.unblock():
        params = default_server_params()
        create_scratch_database(params, "tenancy_health_empty")
        try:
            url = database_url(
                {**connection.settings_dict, "NAME": "tenancy_health_empty"},
                "tenancy_health_empty",
            )
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url}
            done = subprocess.run(
                [sys.executable, "-m", "django", "check_tenants"],
                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
                check=False,
            )  # fmt: skip
        finally:
            drop(params, "tenancy_health_empty")
    assert done.returncode == 1
    assert "run `manage.py migrate_schemas --shared` first" in done.stderr
    assert "Traceback" not in done.stderr
