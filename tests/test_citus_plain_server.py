"""The Citus support on a plain PostgreSQL server: it costs one query per connection, changes
nothing, and its commands refuse clearly. (On a real cluster: tests/test_citus.py.)

Also here, because the Citus cluster showed the bug: a unique violation while registering
a tenant is "already exists" only when the schema name or the domain is taken.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from tenancy_app import provision_tenant, public_context
from tenancy_app.citus import (
    is_citus,
    make_reference_tables,
    missing_reference_tables,
    move_tenant,
    shared_tables_referenced_by_tenants,
    tenant_nodes,
)
from tenancy_app.citus.reference import SharedReference
from tenancy_app.cloning import read_catalog
from tenancy_app.conf import tenancy_settings
from tenancy_app.exceptions import NotOnCitus, ProvisioningError, TenantAlreadyExists
from tenancy_app.models import Domain, Tenant
from tenancy_app.schemas import list_schemas, schema_exists
from tenancy_app.template_schema import template_clone_script
from tests.settings import INSTALLED_APPS, TENANCY


def test_a_plain_server_is_asked_once_per_connection(db, monkeypatch):
    assert not is_citus()
    physical = connection.connection

    def no_more_queries():
        raise AssertionError("asked again")

    with monkeypatch.context() as patched:
        patched.setattr(physical, "cursor", no_more_queries)
        assert not is_citus()


def test_clone_script_adds_one_constraint_per_statement(db):
    script = template_clone_script()
    constraints = read_catalog(tenancy_settings.TEMPLATE_SCHEMA).constraints
    alters = [s for s in script.statements if s.startswith("ALTER TABLE")]
    assert all(statement.count("ADD CONSTRAINT") == 1 for statement in alters), alters
    assert len(alters) == len(constraints) > 1
    assert script.text == ";\n".join(script.statements) + ";"


def _reset_domain_sequence_onto(domain: Domain) -> None:
    """What Citus does to a table it converts: the next id collides with an existing row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('public.tenancy_app_domain', 'id'), %s, false)",
            [domain.pk],
        )


def test_a_primary_key_collision_is_not_reported_as_already_exists(db):
    acme = provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    _reset_domain_sequence_onto(Domain.objects.get(tenant=acme))
    with pytest.raises(ProvisioningError) as info:
        provision_tenant(schema_name="globex", name="Globex", domain="globex.test")
    assert not isinstance(info.value, TenantAlreadyExists)
    assert info.value.step == "registering the domain"
    assert "tenancy_app_domain_pkey" in str(info.value)
    assert not Tenant.objects.filter(schema_name="globex").exists()
    assert not schema_exists("globex")


def test_a_taken_schema_or_domain_says_which(db):
    provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    with pytest.raises(TenantAlreadyExists, match=r"^A tenant with schema 'acme' already exists"):
        provision_tenant(schema_name="acme", name="Other", domain="other.test")
    with pytest.raises(
        TenantAlreadyExists, match=r"^A tenant with domain 'acme\.test' already exists"
    ):
        provision_tenant(schema_name="other", name="Other", domain="acme.test")


@pytest.mark.parametrize(
    "args",
    [
        ("move_tenant", "--schema", "acme", "--node", "127.0.0.1:9701"),
        ("list_nodes",),
        ("make_reference_tables",),
        ("migrate_schemas", "--reference-tables", "--noinput"),
    ],
)
def test_commands_refuse_on_a_plain_server(db, make_tenant, args):
    make_tenant("acme")
    schemas = list_schemas()
    with pytest.raises(CommandError, match="is not a Citus coordinator"):
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    assert list_schemas() == schemas


def test_python_api_on_a_plain_server(db, make_tenant):
    acme = make_tenant("acme")
    with pytest.raises(NotOnCitus):
        move_tenant(acme, "127.0.0.1:9701")
    with pytest.raises(NotOnCitus):
        make_reference_tables()
    assert tenant_nodes(["acme"]) == {}
    assert missing_reference_tables() == []


def test_list_tenants_has_no_node_column_on_a_plain_server(db, make_tenant):
    make_tenant("acme")
    out = StringIO()
    call_command("list_tenants", stdout=out)
    assert "NODE" not in out.getvalue() and "acme" in out.getvalue()


def test_no_shared_table_is_referenced_by_the_test_apps():
    assert shared_tables_referenced_by_tenants() == []


def _with_tenant_app(app: str) -> override_settings:
    return override_settings(
        INSTALLED_APPS=[*INSTALLED_APPS, app],
        TENANCY={**TENANCY, "TENANT_APPS": [*TENANCY["TENANT_APPS"], app]},
    )


def test_shared_tables_referenced_by_tenants_come_referenced_first():
    with _with_tenant_app("tests.billing"):
        assert shared_tables_referenced_by_tenants() == [
            SharedReference("tenancy_app_tenant", ("billing.Subscription.tenant",))
        ]
    with _with_tenant_app("tests.domain_links"):
        # Domain references Tenant: Tenant first. A foreign key without a database
        # constraint (to SchemaMigrationResult) needs nothing.
        assert shared_tables_referenced_by_tenants() == [
            SharedReference("tenancy_app_tenant", ("tenancy_app.Domain.tenant",)),
            SharedReference("tenancy_app_domain", ("domain_links.Alias.domain",)),
        ]


def test_reference_table_check_is_silent_on_a_plain_server(db):
    with _with_tenant_app("tests.billing"):
        assert run_checks(databases=["default"], tags=["database"]) == []
        out = StringIO()
        call_command("check", databases=["default"], stdout=out, stderr=out)
        assert "tenancy.W141" not in out.getvalue()


@pytest.fixture
def public_admin(db) -> Client:
    with public_context():
        operator = get_user_model().objects.create_superuser("root", "root@public.test", "pw")
    client = Client(HTTP_HOST="public.test")
    client.force_login(operator)
    return client


def test_admin_has_no_nodes_on_a_plain_server(public_admin, make_tenant):
    make_tenant("acme")
    page = public_admin.get("/admin/tenancy_app/tenant/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "acme" in html and "column-node" not in html and "/nodes/" not in html
    assert public_admin.get("/admin/tenancy_app/tenant/nodes/").status_code == 404
