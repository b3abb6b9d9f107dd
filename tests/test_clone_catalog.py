"""A tenant copied from the template is indistinguishable from one made by migrations.

One tenant is provisioned through the fast path and one by running the migrations; their
catalogs (tables, columns, types, defaults, identity, sequences with ownership and
positions, indexes, constraints with foreign keys and deferrability, views, comments)
and their post-migrate rows (migrations, content types, permissions, ids included) must
be equal. Every tenant app of the test settings takes part (tests.notes, and any other
app in TENANCY["TENANT_APPS"]).
"""

from __future__ import annotations

from django.apps import apps

from tenancy_app import provision_tenant
from tenancy_app.conf import tenancy_settings
from tenancy_app.routers import tenant_app_labels
from tests.catalog import differences, schema_catalog, schema_rows


def test_template_copy_and_migrations_give_the_same_schema(db):
    provision_tenant(schema_name="by_copy", name="By copy", method="template")
    provision_tenant(schema_name="by_migrations", name="By migrations", method="migrate")

    copied, migrated = schema_catalog("by_copy"), schema_catalog("by_migrations")
    assert differences(copied, migrated) == []
    assert differences(schema_rows("by_copy"), schema_rows("by_migrations")) == []

    # The comparison covered every tenant app's tables, not an empty schema.
    tables = {row[0] for row in migrated["relations"]}
    for label in tenant_app_labels():
        for model in apps.get_app_config(label).get_models():
            if model._meta.managed and not model._meta.proxy:
                assert model._meta.db_table in tables, (label, model)
    assert {"notes_note", "django_migrations", "auth_permission"} <= tables
    assert any(row[11] is not None for row in migrated["sequences"])  # positions compared
    assert any(row[2] == "f" for row in migrated["constraints"])  # foreign keys compared


def test_template_itself_matches_a_migrated_tenant(db):
    provision_tenant(schema_name="by_migrations", name="By migrations", method="migrate")
    template = tenancy_settings.TEMPLATE_SCHEMA
    assert differences(schema_catalog(template), schema_catalog("by_migrations")) == []
    assert differences(schema_rows(template), schema_rows("by_migrations")) == []
