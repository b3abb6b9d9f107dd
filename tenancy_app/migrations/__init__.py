"""tenancy_app's own migrations, and the helpers that scope data migrations of any app.

In a migration file::

    from tenancy_app.migrations import in_tenants

    @in_tenants
    def backfill(apps, schema_editor): ...

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]

or ``in_public(migrations.RunSQL(...))``. See :mod:`tenancy_app.migration_scopes`.
"""

from ..migration_scopes import everywhere_but_template, in_public, in_tenants

__all__ = ["everywhere_but_template", "in_public", "in_tenants"]
