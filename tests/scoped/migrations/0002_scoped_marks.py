"""Each scope of tenancy_app.migrations leaves a mark where it ran (and removes it going back)."""

from django.db import migrations

from tenancy_app.migrations import everywhere_but_template, in_public, in_tenants


def _add(apps, schema_editor, label):
    mark = apps.get_model("scoped", "Mark")
    mark.objects.using(schema_editor.connection.alias).create(label=label)


def _remove(apps, schema_editor, label):
    mark = apps.get_model("scoped", "Mark")
    mark.objects.using(schema_editor.connection.alias).filter(label=label).delete()


@in_public
def mark_public(apps, schema_editor):
    _add(apps, schema_editor, "public")


@in_public
def unmark_public(apps, schema_editor):
    _remove(apps, schema_editor, "public")


@in_tenants
def mark_tenants(apps, schema_editor):
    _add(apps, schema_editor, "tenants")


@in_tenants
def unmark_tenants(apps, schema_editor):
    _remove(apps, schema_editor, "tenants")


@in_tenants(new_tenants=True)
def mark_new_tenants(apps, schema_editor):
    _add(apps, schema_editor, "new tenants")


@in_tenants(new_tenants=True)
def unmark_new_tenants(apps, schema_editor):
    _remove(apps, schema_editor, "new tenants")


@everywhere_but_template
def mark_everywhere(apps, schema_editor):
    _add(apps, schema_editor, "everywhere")


@everywhere_but_template
def unmark_everywhere(apps, schema_editor):
    _remove(apps, schema_editor, "everywhere")


class Migration(migrations.Migration):
    dependencies = [("scoped", "0001_initial")]

    operations = [
        migrations.RunPython(mark_public, unmark_public),
        migrations.RunPython(mark_tenants, unmark_tenants),
        migrations.RunPython(mark_new_tenants, unmark_new_tenants),
        migrations.RunPython(mark_everywhere, unmark_everywhere),
        in_tenants(
            migrations.RunSQL(
                "INSERT INTO scoped_mark (label) VALUES ('sql tenants')",
                "DELETE FROM scoped_mark WHERE label = 'sql tenants'",
            )
        ),
        in_public(
            migrations.RunSQL(
                "INSERT INTO scoped_mark (label) VALUES ('sql public')",
                "DELETE FROM scoped_mark WHERE label = 'sql public'",
            )
        ),
    ]
