"""A data migration with historical models; fails on purpose in chosen schemas (tests).

``settings.INVENTORY_FAIL_IN_SCHEMAS`` (absent in normal runs) names schemas where it
raises, which is how the tests make one schema's migration fail out of several.
"""

from django.conf import settings
from django.db import migrations

from tenancy_app import get_current_schema


def seed(apps, schema_editor):
    schema = get_current_schema()
    if schema in getattr(settings, "INVENTORY_FAIL_IN_SCHEMAS", ()):
        raise RuntimeError(f"seed_categories asked to fail in {schema}")
    Category = apps.get_model("inventory", "Category")
    Warehouse = apps.get_model("inventory", "Warehouse")
    db = schema_editor.connection.alias
    Category.objects.using(db).bulk_create(
        [Category(name="General", slug="general"), Category(name="Spare parts", slug="spare-parts")]
    )
    Warehouse.objects.using(db).create(code="MAIN", name="Main warehouse")


def unseed(apps, schema_editor):
    db = schema_editor.connection.alias
    apps.get_model("inventory", "Warehouse").objects.using(db).filter(code="MAIN").delete()
    apps.get_model("inventory", "Category").objects.using(db).filter(
        slug__in=["general", "spare-parts"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_stocklevel"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
