"""Scoped data migrations (tenancy_app.migrations): where each scope runs, and what new tenants get.

``tests.scoped`` is in SHARED_APPS and TENANT_APPS; its migration 0002 leaves one mark
per scoped operation in the schema it runs in (see tests/scoped/migrations/).
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection, migrations
from psycopg import sql

from tenancy_app import provision_tenant
from tenancy_app.conf import tenancy_settings
from tenancy_app.context import public_context
from tenancy_app.migration_scopes import Scope, scope_of
from tenancy_app.migrations import everywhere_but_template, in_public, in_tenants

PUBLIC = ["everywhere", "public", "sql public"]
TEMPLATE = ["new tenants"]
EXISTING_TENANT = ["everywhere", "new tenants", "sql tenants", "tenants"]


def marks(schema: str) -> list[str]:
    with public_context(), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT label FROM {}.scoped_mark ORDER BY label").format(
                sql.Identifier(schema)
            )
        )
        return [row[0] for row in cursor.fetchall()]


def migrate_schemas(*args: str) -> str:
    out = io.StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_each_scope_runs_only_where_it_says(make_tenant):
    template = tenancy_settings.TEMPLATE_SCHEMA
    # As left by the test database's set-up: Django's migrate in public, the template
    # made by ensure_template().
    assert marks("public") == PUBLIC
    assert marks(template) == TEMPLATE
    # New tenants, by either provisioning method, start as copies of the template:
    # no operation scoped to existing tenants ran in them.
    make_tenant("acme")
    provision_tenant(schema_name="globex", name="Globex", method="migrate")
    assert marks("acme") == marks("globex") == TEMPLATE

    # Applied again now that acme and globex exist (backwards first: the reverse
    # functions are scoped alike).
    migrate_schemas("scoped", "0001")
    for schema in ("public", template, "acme", "globex"):
        assert marks(schema) == []
    migrate_schemas("scoped")
    assert marks("public") == PUBLIC
    assert marks(template) == TEMPLATE
    assert marks("acme") == marks("globex") == EXISTING_TENANT

    # A tenant provisioned afterwards gets only what ran in the template.
    make_tenant("initech")
    provision_tenant(schema_name="umbrella", name="Umbrella", method="migrate")
    assert marks("initech") == marks("umbrella") == TEMPLATE


def test_a_single_schema_run_with_djangos_migrate_honours_the_scope(make_tenant):
    acme = make_tenant("acme")
    from tenancy_app import tenant_context

    with tenant_context(acme):
        call_command("migrate", "scoped", "0001", verbosity=0)
        assert marks("acme") == []
        call_command("migrate", "scoped", verbosity=0)
    assert marks("acme") == EXISTING_TENANT
    assert marks("public") == PUBLIC


def test_plan_names_the_scope(make_tenant):
    make_tenant("acme")
    migrate_schemas("scoped", "0001")
    out = migrate_schemas("--plan")
    assert "Raw Python operation (only in existing tenants)" in out
    assert "Raw Python operation (only in public)" in out
    assert "Raw Python operation (only in tenants and template)" in out
    assert "Raw Python operation (only in public and existing tenants)" in out
    assert "scoped_mark (label) VAL… (only in existing tenants)" in out


def test_the_helpers_mark_functions_and_operations():
    def forwards(apps, schema_editor):
        pass

    assert scope_of(migrations.RunPython(in_public(forwards))) == Scope(public=True)
    assert scope_of(migrations.RunPython(forwards)) is None
    operation = in_tenants(migrations.RunSQL("SELECT 1"), new_tenants=True)
    assert operation.hints == {"tenancy_scope": "tenants+template"}
    assert scope_of(operation) == Scope(tenants=True, template=True)
    # The hint is kept by squashmigrations (it is part of the operation's deconstruction).
    assert operation.deconstruct()[2]["hints"] == {"tenancy_scope": "tenants+template"}
    assert scope_of(everywhere_but_template(migrations.RunSQL("SELECT 1"))) == Scope(
        public=True, tenants=True
    )
    with pytest.raises(ValueError, match="already has the scope"):
        in_public(operation)
    with pytest.raises(TypeError):
        in_public("SELECT 1")
