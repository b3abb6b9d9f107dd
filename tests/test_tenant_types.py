"""Tenant types against a real PostgreSQL: two types with different apps, end to end.

"store" tenants have the notes and inventory apps, "agency" tenants only notes; each
type has its own template schema and URLconf.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings

from tenancy_app import provision_tenant, tenant_context
from tenancy_app.context import public_context, schema_context
from tenancy_app.exceptions import UnknownTenantType
from tenancy_app.models import Tenant
from tenancy_app.provisioning import clone_tenant
from tenancy_app.routers import TenantRouter
from tenancy_app.schemas import drop_schema, schema_exists
from tenancy_app.template_schema import ensure_template
from tenancy_app.tenant_types import template_schema
from tests.notes.models import Note

COMMON = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "tenancy_app.apps.TenancyAdminConfig",
    "django.contrib.sites",
    "tests.scoped",
]
TYPES = {
    "store": {"APPS": ["tests.notes", "tests.inventory"], "URLCONF": "tests.urls"},
    "agency": {"APPS": ["tests.notes"], "URLCONF": "tests.urls_agency"},
}
STORE, AGENCY = template_schema("store"), template_schema("agency")


def typed(**changes: object) -> override_settings:
    return override_settings(
        TENANCY={**settings.TENANCY, "TENANT_APPS": COMMON, "TENANT_TYPES": TYPES, **changes}
    )


@pytest.fixture(scope="module")
def type_templates(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Both types' template schemas, made once (committed) for this module's tests."""
    with django_db_blocker.unblock(), typed():
        for name in TYPES:
            ensure_template(tenant_type=name)
    yield
    with django_db_blocker.unblock(), public_context():
        for schema in (STORE, AGENCY):
            drop_schema(schema, missing_ok=True)


@pytest.fixture
def types(type_templates: None, db: None) -> Iterator[None]:
    with typed():
        yield


def tables(schema: str) -> set[str]:
    with public_context(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            [schema],
        )
        return {row[0] for row in cursor.fetchall()}


def apps_with_tables(schema: str) -> set[str]:
    return {name.split("_")[0] for name in tables(schema)}


def columns(schema: str, table: str) -> list[str]:
    with public_context(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY column_name",
            [schema, table],
        )
        return [row[0] for row in cursor.fetchall()]


def migrate_schemas(*args: str) -> str:
    out = io.StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=out)
    return out.getvalue()


def provision(schema_name: str, tenant_type: str, **options: object) -> Tenant:
    tenant = provision_tenant(
        schema_name=schema_name,
        name=schema_name.title(),
        domain=f"{schema_name}.test",
        tenant_type=tenant_type,
        **options,
    )
    assert isinstance(tenant, Tenant)
    return tenant


TENANT_SIDE = {"auth", "django", "scoped"}  # auth_*, django_content_type/_session/..., scoped
STORE_APPS = TENANT_SIDE | {"notes", "inventory"}


def test_each_schema_holds_exactly_its_types_apps(types):
    acme = provision("acme", "store")
    globex = provision("globex", "agency")
    initech = provision("initech", "agency", method="migrate")
    assert acme.type == "store" and globex.type == initech.type == "agency"
    assert apps_with_tables("acme") == apps_with_tables(STORE) == STORE_APPS
    for schema in ("globex", "initech", AGENCY):
        assert apps_with_tables(schema) == TENANT_SIDE | {"notes"}
    assert tables("globex") == tables("initech")  # both provisioning methods agree
    assert "tenancy_app_tenant" in tables("public")
    assert not {"inventory_product", "notes_note"} & tables("public")


def test_a_migration_of_one_types_app_touches_only_its_schemas(types):
    provision("acme", "store")
    provision("globex", "agency")
    before = {schema: tables(schema) for schema in ("globex", AGENCY)}
    assert "is_active" in columns("acme", "inventory_product")
    out = migrate_schemas("inventory", "0009")
    assert "is_active" not in columns("acme", "inventory_product")
    assert "is_active" not in columns(STORE, "inventory_product")
    assert {schema: tables(schema) for schema in ("globex", AGENCY)} == before
    assert re.search(r"^  failed +0$", out, re.MULTILINE)
    migrate_schemas("inventory")
    assert "is_active" in columns("acme", "inventory_product")


def test_plan_and_check_are_per_type(types):
    provision("acme", "store")
    provision("globex", "agency")
    provision("initech", "agency")
    migrate_schemas("inventory", "0009")
    plan = migrate_schemas("--plan", "inventory")
    assert f"type store: 2 schemas ({STORE}, acme):" in plan
    assert f"type agency: 3 schemas ({AGENCY}, globex, initech):" in plan
    assert "inventory.0010_product_is_active (recorded only: not an app of type agency)" in plan
    assert "Add field is_active to product" in plan  # for the store group
    # --type: that type's template and tenants only
    plan = migrate_schemas("--plan", "--type", "agency", "inventory")
    assert f"type agency: 3 schemas ({AGENCY}, globex, initech):" in plan
    assert "acme" not in plan and "public" not in plan
    with pytest.raises(CommandError, match="3 of 3 schemas are not up to date"):
        migrate_schemas("--check", "--type", "agency")
    migrate_schemas("--type", "store")
    assert "is_active" in columns("acme", "inventory_product")
    with pytest.raises(CommandError, match="3 of 3 schemas are not up to date"):
        migrate_schemas("--check", "--type", "agency")  # not migrated by --type store
    migrate_schemas("--type", "agency")
    assert "All 3 schemas are up to date." in migrate_schemas("--check", "--type", "agency")
    with pytest.raises(CommandError, match="Unknown tenant type 'shop'"):
        migrate_schemas("--type", "shop")


def test_tenants_of_a_type_no_longer_configured_are_refused_everywhere(types, client: Client):
    provision("acme", "store")
    provision("globex", "agency")
    with typed(TENANT_TYPES={"store": TYPES["store"]}):
        out = io.StringIO()
        with pytest.raises(CommandError, match="1 of 4 schemas failed to migrate: globex"):
            call_command("migrate_schemas", stdout=out, stderr=out)
        assert "The tenant type 'agency' of 'globex' is not in TENANCY['TENANT_TYPES']" in (
            out.getvalue()
        )
        response = client.get("/", HTTP_HOST="globex.test")
        assert response.status_code == 503
        # The router gives its schema no app: nothing can be created there.
        with schema_context("globex"):
            assert not TenantRouter().allow_migrate("default", "notes")
        with schema_context("acme"):
            assert TenantRouter().allow_migrate("default", "inventory")


def test_each_type_is_served_with_its_urlconf(types, client: Client):
    acme = provision("acme", "store")
    provision("globex", "agency")
    with tenant_context(acme):
        Note.objects.create(title="acme note")
    assert client.get("/notes/", HTTP_HOST="acme.test").json()["titles"] == ["acme note"]
    assert client.get("/", HTTP_HOST="globex.test").json() == {"agency": True, "schema": "globex"}
    assert client.get("/notes/", HTTP_HOST="globex.test").status_code == 404


def test_provisioning_requires_a_configured_type(types):
    for tenant_type in (None, "", "shop"):
        with pytest.raises(UnknownTenantType):
            provision("acme", tenant_type)  # type: ignore[arg-type]
    untyped = {key: value for key, value in settings.TENANCY.items() if key != "TENANT_TYPES"}
    with (
        override_settings(TENANCY=untyped),
        pytest.raises(UnknownTenantType, match="TENANCY\\['TENANT_TYPES'\\] is not configured"),
    ):
        provision("acme", "store")
    with public_context():
        assert not Tenant.objects.exists()


def test_create_tenant_and_clone_tenant_follow_the_type(types):
    out = io.StringIO()
    call_command(
        "create_tenant", "--schema", "acme", "--name", "Acme", "--domain", "acme.test",
        "--type", "agency", "--noinput", stdout=out,
    )  # fmt: skip
    assert "type agency" in out.getvalue()
    with pytest.raises(CommandError, match="--type is required"):
        call_command(
            "create_tenant", "--schema", "b", "--name", "B", "--no-domain", "--noinput",
            stdout=io.StringIO(),
        )  # fmt: skip
    with pytest.raises(CommandError, match="Unknown tenant type 'shop'"):
        call_command(
            "create_tenant", "--schema", "b", "--name", "B", "--no-domain", "--type", "shop",
            "--noinput", stdout=io.StringIO(),
        )  # fmt: skip
    call_command("clone_tenant", "--from", "acme", "--schema", "acme2", stdout=out)
    with public_context():
        copy = Tenant.objects.get(schema_name="acme2")
    assert copy.type == "agency"
    assert "type agency" in out.getvalue()
    assert apps_with_tables("acme2") == apps_with_tables("acme")
    with public_context():
        source = Tenant.objects.get(schema_name="acme")
    with pytest.raises(ValueError, match="has its type 'agency'"):
        clone_tenant(source, schema_name="acme3", name="X", type="store")


def test_tenant_command_type(types):
    provision("acme", "store")
    provision("globex", "agency")
    provision("initech", "agency")
    out = io.StringIO()
    call_command(
        "tenant_command", "notes_info", "--all", "--type", "agency", "--exclude", "initech",
        stdout=out,
    )  # fmt: skip
    assert [line for line in out.getvalue().splitlines() if line.startswith("schema=")] == [
        "schema=globex tenant=globex notes=0"
    ]
    with pytest.raises(CommandError, match="Unknown tenant type"):
        call_command("tenant_command", "notes_info", "--all", "--type", "shop")


def test_without_types_a_type_is_refused(db):
    with pytest.raises(ValidationError, match="is not configured"):
        provision_tenant(schema_name="acme", name="Acme", tenant_type="store")
    with pytest.raises(CommandError, match="is not configured"):
        call_command(
            "create_tenant", "--schema", "acme", "--name", "A", "--no-domain", "--type", "x",
            "--noinput",
        )  # fmt: skip
    with pytest.raises(CommandError, match="is not configured"):
        migrate_schemas("--type", "store")


# The admin --------------------------------------------------------------------------

CHANGELIST = "/admin/tenancy_app/tenant/"


@pytest.fixture
def operator_client(types: None) -> Client:
    with public_context():
        operator = get_user_model().objects.create_superuser("root", "root@public.test", "pw")
    client = Client(HTTP_HOST="public.test")
    client.force_login(operator)
    return client


def listed(client: Client, query: str = "") -> list[str]:
    page = client.get(f"{CHANGELIST}?{query}")
    assert page.status_code == 200
    return re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', page.content.decode())


def test_admin_list_has_a_type_column_and_filter(operator_client: Client):
    provision("acme", "store")
    provision("globex", "agency")
    provision("initech", "agency")
    with public_context():
        Tenant.objects.filter(schema_name="initech").update(type="gone")
    page = operator_client.get(CHANGELIST).content.decode()
    assert '<th scope="col" class="sortable column-type">' in page
    assert '<td class="field-type">agency</td>' in page
    assert listed(operator_client) == ["Acme", "Globex", "Initech"]
    assert listed(operator_client, "type=agency") == ["Globex"]
    assert listed(operator_client, "type=-") == ["Initech"]  # not configured


def test_admin_adds_a_tenant_of_the_chosen_type(operator_client: Client):
    page = operator_client.get(CHANGELIST + "add/").content.decode()
    assert '<option value="agency">agency</option>' in page
    post = {"schema_name": "acme", "name": "Acme", "domain": "acme.test"}
    response = operator_client.post(CHANGELIST + "add/", post)
    assert response.status_code == 200
    assert "type" in response.context["adminform"].form.errors
    assert not schema_exists("acme")
    response = operator_client.post(CHANGELIST + "add/", {**post, "type": "agency"})
    assert response.status_code == 302
    with public_context():
        acme = Tenant.objects.get(schema_name="acme")
    assert acme.type == "agency"
    assert apps_with_tables("acme") == TENANT_SIDE | {"notes"}
    change = operator_client.get(f"{CHANGELIST}{acme.pk}/change/").content.decode()
    assert '<div class="readonly">agency</div>' in change  # fixed once created
    assert 'name="type"' not in change


def test_each_types_admin_shows_its_own_models(types):
    from tenancy_app.admin_site import model_is_placed
    from tests.inventory.models import Product

    acme = provision("acme", "store")
    globex = provision("globex", "agency")
    with tenant_context(acme):
        assert model_is_placed(Product) and model_is_placed(Note)
    with tenant_context(globex):
        assert not model_is_placed(Product) and model_is_placed(Note)
    assert not model_is_placed(Product, "public")


# tenancy.W162 (a database check) -----------------------------------------------------


def test_check_w162_names_tenants_of_a_type_not_configured(types):
    from tenancy_app.checks import check_tenants_types_configured

    provision("acme", "store")
    provision("globex", "agency")
    assert check_tenants_types_configured(None, databases=["default"]) == []
    with typed(TENANT_TYPES={"store": TYPES["store"]}):
        [warning] = check_tenants_types_configured(None, databases=["default"])
        assert warning.id == "tenancy.W162"
        assert "Tenants of type 'agency' (globex, ...)" in warning.msg
        assert check_tenants_types_configured(None) == []  # only with --database
        err = io.StringIO()
        call_command("check", "--database", "default", stderr=err, stdout=io.StringIO())
        assert "tenancy.W162" in err.getvalue()
    untyped = {key: value for key, value in settings.TENANCY.items() if key != "TENANT_TYPES"}
    with override_settings(TENANCY=untyped):
        messages = check_tenants_types_configured(None, databases=["default"])
        assert [m.id for m in messages] == ["tenancy.W162", "tenancy.W162"]
        assert "TENANCY['TENANT_TYPES'] is not configured" in messages[0].msg
    with public_context():
        Tenant.objects.filter(schema_name="acme").update(type="")
    [warning] = check_tenants_types_configured(None, databases=["default"])
    assert "Tenants without a type (acme, ...)" in warning.msg


def test_list_tenants_shows_and_filters_the_type(types):
    provision("acme", "store")
    provision("globex", "agency")
    out = io.StringIO()
    call_command("list_tenants", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["SCHEMA", "NAME", "STATUS", "TYPE", "PRIMARY", "DOMAIN"]
    assert lines[2].split() == ["globex", "Globex", "active", "agency", "globex.test"]
    out = io.StringIO()
    call_command("list_tenants", "--type", "store", "--format", "json", stdout=out)
    assert [row["type"] for row in json.loads(out.getvalue())] == ["store"]
