"""provision_tenant / delete_tenant: all or nothing, clear errors, bad input refused before SQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models.signals import post_migrate
from django.test.utils import CaptureQueriesContext

from tenancy_app import delete_tenant, provision_tenant, public_context
from tenancy_app.exceptions import (
    InvalidSchemaName,
    ProvisioningError,
    SchemaAlreadyExists,
    TenantAlreadyExists,
)
from tenancy_app.models import Domain, Tenant, TenantStatus
from tenancy_app.schemas import create_schema, drop_schema, list_schemas, schema_exists

BAD_NAMES = [
    "Robert'); DROP SCHEMA public;--",
    "pg_x",
    "a" * 64,
    "public",
    "Acme",
    "1abc",
    "tenancy_template",
    "information_schema",
    "",
    "acme-corp",
    "ac me",
]


def rows(sql: str, params=()) -> list[tuple]:
    with public_context(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_provisioned_tenant_is_active_with_tables_and_post_migrate_rows(db):
    tenant = provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    assert tenant.status == TenantStatus.ACTIVE
    assert Tenant.objects.get(schema_name="acme").status == TenantStatus.ACTIVE
    assert Domain.objects.get(domain="acme.test").tenant == tenant
    assert rows(
        "SELECT count(*) FROM acme.django_content_type WHERE app_label = 'notes' AND model = 'note'"
    ) == [(1,)]
    assert rows("SELECT count(*) FROM acme.auth_permission WHERE codename = 'add_note'") == [(1,)]
    assert rows("SELECT count(*) FROM acme.django_migrations WHERE app = 'notes'") == [(1,)]
    assert rows("SELECT to_regclass('public.notes_note')") == [(None,)]
    assert rows("SELECT to_regclass('acme.tenancy_app_tenant')") == [(None,)]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_schema_names_are_refused_before_any_sql(db, name):
    before = list_schemas()
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidSchemaName):
        provision_tenant(schema_name=name, name="x", domain="x.test")
    assert queries.captured_queries == []
    assert list_schemas() == before
    assert not Tenant.objects.exists()


def test_failure_in_a_step_leaves_nothing_and_names_the_step(db):
    def explode(sender, **kwargs):
        raise RuntimeError("post-migrate handler broke")

    post_migrate.connect(explode, dispatch_uid="explode")
    try:
        with pytest.raises(ProvisioningError) as info:
            provision_tenant(schema_name="acme", name="Acme", domain="acme.test", method="migrate")
    finally:
        post_migrate.disconnect(dispatch_uid="explode")
    assert info.value.step == "migrating the schema"
    assert "post-migrate handler broke" in str(info.value)
    assert not Tenant.objects.exists()
    assert not Domain.objects.exists()
    assert not schema_exists("acme")


def test_taken_schema_name_or_domain(db):
    provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    with pytest.raises(TenantAlreadyExists):
        provision_tenant(schema_name="acme", name="Acme 2", domain="acme2.test")
    with pytest.raises(TenantAlreadyExists):
        provision_tenant(schema_name="acme2", name="Acme 2", domain="acme.test")
    assert not schema_exists("acme2")
    assert list(Tenant.objects.values_list("schema_name", flat=True)) == ["acme"]


def test_existing_schema_without_tenant_is_not_taken_over(db):
    create_schema("orphan")
    with pytest.raises(SchemaAlreadyExists):
        provision_tenant(schema_name="orphan", name="Orphan")
    assert not Tenant.objects.exists()
    drop_schema("orphan")


def test_delete_tenant_drops_schema_unless_kept(db):
    acme = provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    globex = provision_tenant(schema_name="globex", name="Globex")
    delete_tenant(acme)
    assert not schema_exists("acme")
    assert not Domain.objects.exists()
    delete_tenant(globex, drop=False)
    assert schema_exists("globex")
    assert not Tenant.objects.exists()
    drop_schema("globex")


@pytest.mark.django_db(transaction=True)
def test_concurrent_provisioning_of_one_name_one_wins():
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def create(domain: str) -> None:
        try:
            barrier.wait()
            outcomes.append(provision_tenant(schema_name="race", name="Race", domain=domain))
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(f"race{i}.test",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        winners = [o for o in outcomes if isinstance(o, Tenant)]
        losers = [o for o in outcomes if not isinstance(o, Tenant)]
        assert len(winners) == 1
        assert len(losers) == 1
        assert isinstance(losers[0], TenantAlreadyExists | SchemaAlreadyExists), losers
        assert Tenant.objects.get().status == TenantStatus.ACTIVE
        assert Domain.objects.count() == 1
    finally:
        with public_context():
            Tenant.objects.all().delete()
            drop_schema("race", missing_ok=True)


def test_failure_in_the_middle_of_the_copy_leaves_nothing(db):
    # A real error half-way through the script: tables are made, then CREATE INDEX fails.
    with public_context(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_indexes() RETURNS event_trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'no new indexes today'; END $$"
        )
        cursor.execute(
            "CREATE EVENT TRIGGER refuse_indexes ON ddl_command_start "
            "WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION refuse_indexes()"
        )
    with pytest.raises(ProvisioningError) as info:
        provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    assert info.value.step == "copying the template schema"
    assert "no new indexes today" in str(info.value)
    assert not Tenant.objects.exists()
    assert not Domain.objects.exists()
    assert not schema_exists("acme")


def test_fast_path_is_a_few_statements_and_one_script(db):
    provision_tenant(schema_name="warm", name="Warm")  # the template's script is built once
    with CaptureQueriesContext(connection) as queries:
        tenant = provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    assert tenant.status == TenantStatus.ACTIVE
    statements = [query["sql"] for query in queries.captured_queries]
    assert sum("CREATE TABLE" in statement for statement in statements) == 1
    assert len(statements) <= 13, statements  # 12, and the audit trail's entry


def test_unknown_method_is_refused(db):
    with pytest.raises(ValueError, match="method"):
        provision_tenant(schema_name="acme", name="Acme", method="copy")  # type: ignore[arg-type]
