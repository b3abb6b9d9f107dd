"""DDL for PostgreSQL schemas. Every name is validated first and quoted with sql.Identifier."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from .conf import tenancy_settings
from .exceptions import SchemaAlreadyExists, SchemaNotFound
from .names import validate_schema_name


def _checked(name: str) -> str:
    """Tenant names by the rules; the project's template schemas are allowed too."""
    reserved = tenancy_settings.RESERVED_SCHEMAS
    if name in reserved and name != tenancy_settings.PUBLIC_SCHEMA:
        return name
    return validate_schema_name(name, reserved=reserved)


def schema_exists(name: str, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def list_schemas(*, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Every schema of the database except PostgreSQL's own."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_catalog.pg_namespace "
            "WHERE nspname NOT LIKE 'pg\\_%%' AND nspname <> 'information_schema' "
            "ORDER BY nspname"
        )
        return [row[0] for row in cursor.fetchall()]


def create_schema(name: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    name = _checked(name)
    if schema_exists(name, using=using):
        raise SchemaAlreadyExists(f"The schema {name!r} already exists in the database.")
    with connections[using].cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))


def drop_schema(name: str, *, using: str = DEFAULT_DB_ALIAS, missing_ok: bool = False) -> None:
    """``DROP SCHEMA ... CASCADE``: every table and row of the schema is gone.

    Inside a transaction, deferred constraint checks still pending (rows inserted earlier
    in the same transaction, e.g. by provisioning in a test) would make PostgreSQL refuse
    the drop, so they are run first with ``SET CONSTRAINTS ALL IMMEDIATE``; later
    statements of that transaction then check their constraints immediately too.
    """
    name = _checked(name)
    if not schema_exists(name, using=using):
        if missing_ok:
            return
        raise SchemaNotFound(f"The schema {name!r} does not exist.")
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def rename_schema(old: str, new: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    old, new = _checked(old), _checked(new)
    if not schema_exists(old, using=using):
        raise SchemaNotFound(f"The schema {old!r} does not exist.")
    if schema_exists(new, using=using):
        raise SchemaAlreadyExists(f"The schema {new!r} already exists in the database.")
    with connections[using].cursor() as cursor:
        cursor.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
        )
