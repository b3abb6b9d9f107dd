"""The operations with tenant types: each type's template and tables are known to them.

"store" tenants have the notes and inventory apps, "agency" tenants only notes (the types
of tests/test_tenant_types.py, whose fixtures make the two template schemas).
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tenancy_app import across_tenants, tenant_context
from tenancy_app.backup import dump_tenant, restore_tenant
from tenancy_app.exceptions import UnknownTenantType
from tenancy_app.health import check_tenants
from tests.audit_support import forget_committed_entries
from tests.backup_support import all_rows, execute
from tests.catalog import differences, schema_catalog
from tests.inventory.models import Product
from tests.notes.models import Note
from tests.test_tenant_types import (
    AGENCY,
    STORE,
    TYPES,
    provision,
    type_templates,
    typed,
    types,
)

pytestmark = pytest.mark.usefixtures(forget_committed_entries.__name__)
__all__ = ["type_templates", "types"]  # fixtures, found by pytest in this module


def test_each_types_template_is_known_to_check_tenants(types):
    provision("acme", "store")
    provision("globex", "agency")
    report = check_tenants()
    assert report.ok, report.problems
    assert report.templates == {AGENCY: 0, STORE: 0}


def test_across_tenants_reads_each_table_where_the_type_has_it(types):
    acme, globex = provision("acme", "store"), provision("globex", "agency")
    for tenant in (acme, globex):
        with tenant_context(tenant):
            Note.objects.create(title=tenant.schema_name)
    notes = across_tenants(Note.objects.all()).count()
    assert {t.schema_name: n for t, n in notes.items()} == {"acme": 1, "globex": 1}
    products = across_tenants(Product.objects.all())
    assert {t.schema_name: n for t, n in products.count().items()} == {"acme": 0}
    assert [t.schema_name for t in products.skipped] == ["globex"]


def test_a_typed_tenant_comes_back_with_its_type_and_tables(types):
    globex = provision("globex", "agency")
    out = io.BytesIO()
    dump_tenant(globex, out)
    restored = restore_tenant(io.BytesIO(out.getvalue()), schema_name="globex_copy", domains=[])
    assert restored.type == "agency"
    assert differences(schema_catalog("globex"), schema_catalog("globex_copy")) == []
    assert differences(all_rows("globex"), all_rows("globex_copy")) == []
    # A type the project no longer configures is refused before anything is created.
    with typed(TENANT_TYPES={"store": TYPES["store"]}), pytest.raises(UnknownTenantType):
        restore_tenant(io.BytesIO(out.getvalue()), schema_name="globex_two", domains=[])


def test_a_typed_tenant_behind_is_migrated_by_its_types_apps(types):
    acme = provision("acme", "store")
    execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("migrate_schemas", "inventory", "0009", schema=["acme"], stdout=io.StringIO())
    out = io.BytesIO()
    dump_tenant(acme, out)
    call_command("migrate_schemas", schema=["acme"], stdout=io.StringIO())
    restore_tenant(io.BytesIO(out.getvalue()), schema_name="acme_old", domains=[])
    assert differences(schema_catalog("acme"), schema_catalog("acme_old")) == []
