"""A tenant with every kind of table and row, and readings to compare two schemas.

Shared by tests/test_backup.py and tests/backup_roundtrip.py (which runs in a process of
its own against another server).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from psycopg import sql

from tenancy_app.context import public_context, tenant_context
from tests.catalog import rows_of
from tests.inventory.models import Category, Product, StockLevel, StockMovement, Warehouse
from tests.notes.models import Note

TABLES = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %(schema)s AND c.relkind = 'r' ORDER BY 1
"""


def execute(statement: Any, params: Any = None) -> None:
    with public_context(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def all_rows(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of ``schema``."""
    tables = [row[0] for row in rows_of(schema, TABLES, {"schema": schema})]
    return {
        table: sorted(
            rows_of(schema, sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))), key=repr
        )
        for table in tables
    }


def fill(tenant: Any) -> None:
    """Rows in every kind of table, sequences moved past the rows, a serial, a view."""
    with tenant_context(tenant):
        Note.objects.bulk_create(Note(title=f"note {i}") for i in range(5))
        Note.objects.filter(title="note 4").delete()  # the identity is ahead of the rows
        general = Category.objects.get(slug="general")  # from a data migration
        supplier_less = [
            Product(sku=f"p{i}", name=f"Product {i}", category=general, price=Decimal(i) + 1)
            for i in range(3)
        ]
        Product.objects.bulk_create(supplier_less)
        main = Warehouse.objects.get(code="MAIN")
        for product in Product.objects.all():
            StockLevel.objects.create(product=product, warehouse=main, quantity=7)
            StockMovement.objects.create(product=product, warehouse=main, delta=7, reason="in")
        get_user_model().objects.create_user("boss", "boss@acme.test", "pw")
    schema = sql.Identifier(tenant.schema_name)
    for statement in (
        "CREATE TABLE {}.legacy (id serial PRIMARY KEY, label text NOT NULL "
        "CONSTRAINT legacy_label_not_empty CHECK (label <> ''))",
        "INSERT INTO {}.legacy (label) VALUES ('a'), ('b'), ('c')",
        "DELETE FROM {}.legacy WHERE label = 'c'",
        "COMMENT ON TABLE {}.legacy IS 'rows from the old system'",
        "CREATE VIEW {}.note_titles AS SELECT title FROM {}.notes_note WHERE title <> ''",
    ):
        execute(sql.SQL(statement).format(schema, schema))
