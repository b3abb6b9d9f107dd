"""Deploy during sign-ups: ``migrate_schemas`` and provisioning race for the template schema.

A deploy brings a new migration (``slowmig 0002``, slowed by ``pg_sleep``) while eight
sign-ups provision tenants from the template in other processes. Bringing the template
up to date is serialised between the engine and provisioning by one advisory lock: the
first to take it migrates the template, the other waits, finds it done and uses it.
Every process is booted ahead of time (:mod:`tests.gated`) so the race starts when the
test says.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability import Gated, Project, ok, scratch_project, start_gated

pytestmark = pytest.mark.heavy

SIGNUPS = 8
TENANTS = 10
SLOW = {"SLOWMIG_SECONDS": "2"}

_SETUP = f"""
from tenancy_app import provision_tenant
for i in range({TENANTS}):
    provision_tenant(schema_name=f"t{{i:02}}", name=f"T{{i}}", domain=f"t{{i:02}}.test")
"""

_RESET = """
from django.core.management import call_command
from tenancy_app.models import get_tenant_model
from tenancy_app.provisioning import delete_tenants
delete_tenants(get_tenant_model().objects.filter(schema_name__startswith="sg"))
call_command("migrate_schemas", "slowmig", "0001", verbosity=0)
"""


@pytest.fixture(scope="module")
def project() -> Iterator[Project]:
    # Deleting the sign-ups between the two races waits REGISTRY_MAX_AGE: keep it short.
    with scratch_project("race", RELIABILITY_REGISTRY_MAX_AGE="0.5") as project:
        ok(project.manage("shell", "-c", _SETUP))
        yield project


def _behind(project: Project) -> None:
    """The template and every tenant at slowmig 0001, no sign-up left."""
    ok(project.manage("shell", "-c", _RESET))


def _wait_for_the_slow_migration(project: Project) -> None:
    deadline = time.monotonic() + 60
    query = (
        "SELECT count(*) FROM pg_catalog.pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE %s AND pid <> pg_backend_pid()"
    )
    while project.rows(query, ["%pg_sleep(2%"])[0][0] == 0:
        assert time.monotonic() < deadline, "the slow migration never started"
        time.sleep(0.01)


def _signups(project: Project, folder: Path) -> list[Gated]:
    return [
        start_gated(
            project,
            folder,
            f"sg{n}",
            "create_tenant",
            "--schema",
            f"sg{n}",
            "--name",
            f"Sign-up {n}",
            "--domain",
            f"sg{n}.test",
            "--noinput",
            env=SLOW,
        )
        for n in range(SIGNUPS)
    ]


def _assert_all_migrated_once(project: Project) -> None:
    schemas = [
        row[0]
        for row in project.rows(
            "SELECT schema_name FROM public.tenancy_app_tenant ORDER BY schema_name"
        )
    ]
    assert len(schemas) == TENANTS + SIGNUPS
    for schema in ["tenancy_template", *schemas]:
        columns = project.rows(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'slowmig_thing' ORDER BY 1",
            [schema],
        )
        assert columns == [("extra",), ("id",), ("name",)], schema
        rows = project.rows(
            f'SELECT count(*) FROM "{schema}".django_migrations '  # names from the registry
            "WHERE app = 'slowmig' AND name = '0002_thing_extra'"
        )
        assert rows == [(1,)], schema
    active = project.rows("SELECT count(*) FROM public.tenancy_app_tenant WHERE status = 'active'")
    assert active == [(TENANTS + SIGNUPS,)]


def test_signups_first_then_the_deploy(project: Project, tmp_path: Path) -> None:
    _behind(project)
    signups = _signups(project, tmp_path)
    deploy = start_gated(project, tmp_path, "deploy", "migrate_schemas", "--noinput", env=SLOW)
    for gated in [*signups, deploy]:
        gated.wait_ready()
    signups[0].go()  # takes the template and migrates it
    _wait_for_the_slow_migration(project)
    time.sleep(0.3)
    deploy.go()
    for gated in signups[1:]:
        gated.go()
    results = [gated.finish() for gated in [deploy, *signups]]
    for result in results:
        ok(result)
    _assert_all_migrated_once(project)


def test_the_deploy_first_then_signups(project: Project, tmp_path: Path) -> None:
    _behind(project)
    signups = _signups(project, tmp_path)
    deploy = start_gated(project, tmp_path, "deploy", "migrate_schemas", "--noinput", env=SLOW)
    for gated in [*signups, deploy]:
        gated.wait_ready()
    deploy.go()  # takes the template and migrates it
    _wait_for_the_slow_migration(project)
    for gated in signups:
        gated.go()
    results = [gated.finish() for gated in [deploy, *signups]]
    for result in results:
        ok(result)
    _assert_all_migrated_once(project)
