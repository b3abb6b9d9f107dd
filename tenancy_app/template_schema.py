"""The template schema: a tenant schema kept at the current migration state, copied for new tenants.

``TENANCY["TEMPLATE_SCHEMA"]`` (default ``"tenancy_template"``) holds every tenant
table and the post-migrate rows (content types, permissions), made by running the
migrations in it like in any tenant schema. With tenant types each type has its own,
``<TEMPLATE_SCHEMA>_<type>``, holding that type's tables (:mod:`tenancy_app.tenant_types`);
every function here takes the type (``""`` without types). It is never a tenant: its
name is reserved, no resolver finds it, ``list_tenants`` does not show it.
``migrate_schemas`` migrates it along with the tenants; :func:`ensure_template` creates
it when it is missing and migrates it when it is behind the migration files.

Provisioning copies it with a script built from its catalog (:mod:`tenancy_app.cloning`).
The script is built once per template state and kept in this process, keyed by the
template's ``django_migrations`` table (its oid, row count and highest id: any migration
applied or unapplied, or the template dropped and made again, changes the key), so a
new tenant costs two small queries and the script's single round trip. Changes made to
the template by hand, without a migration, are not noticed until the next migration or
restart; call :func:`clear_template_cache` after such a change.
"""

from __future__ import annotations

from io import TextIOBase
from threading import Lock
from typing import IO

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from psycopg import sql

from .cloning import (
    CloneScript,
    build_clone_script,
    read_catalog,
    render_clone_script,
    tables_with_rows,
)
from .conf import tenancy_settings
from .context import public_context, schema_context
from .migrator import migrate_schema
from .migrator.lock import lock_template_in_transaction
from .schemas import create_schema, schema_exists
from .tenant_types import app_entries_of_type, is_typed, template_schema

__all__ = ["clear_template_cache", "ensure_template", "template_clone_script"]

StateKey = tuple[object, ...]

_lock = Lock()
_up_to_date: set[StateKey] = set()
_scripts: dict[StateKey, CloneScript] = {}
_MAX_SCRIPTS = 4


def clear_template_cache() -> None:
    """Forget which template states were checked and the scripts built from them."""
    with _lock:
        _up_to_date.clear()
        _scripts.clear()


def _apps_of(tenant_type: str) -> tuple[str, ...]:
    if is_typed():
        return app_entries_of_type(tenant_type)
    return tuple(tenancy_settings.TENANT_APPS)


def _state_key(using: str, tenant_type: str) -> StateKey | None:
    """What identifies the template's migration state now, or ``None`` without a template.

    Two indexed queries on small tables; no scan of the catalog.
    """
    template = template_schema(tenant_type)
    with public_context(), connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.oid FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND n.nspname = %s",
            [template],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        cursor.execute(
            sql.SQL("SELECT count(*), max(id) FROM {}.django_migrations").format(
                sql.Identifier(template)
            )
        )
        count, last_id = cursor.fetchone()
    return (
        using,
        settings.DATABASES[using].get("NAME"),
        template,
        _apps_of(tenant_type),
        row[0],
        count,
        last_id,
    )


def _has_pending_migrations(template: str, using: str) -> bool:
    with schema_context(template):
        executor = MigrationExecutor(connections[using])
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _ensure(
    using: str,
    tenant_type: str,
    *,
    verbosity: int = 0,
    stdout: IO[str] | TextIOBase | None = None,
) -> tuple[StateKey, bool]:
    key = _state_key(using, tenant_type)
    if key is not None and key in _up_to_date:
        return key, False
    template = template_schema(tenant_type)
    changed = False
    with public_context(), transaction.atomic(using=using):
        # One process at a time creates or migrates the template (provisioning here, or
        # a migrate_schemas run); the others wait here and then find it done.
        lock_template_in_transaction(using, template)
        if not schema_exists(template, using=using):
            create_schema(template, using=using)
            changed = True
        if changed or _has_pending_migrations(template, using):
            migrate_schema(template, using=using, verbosity=verbosity, stdout=stdout)
            changed = True
        key = _state_key(using, tenant_type)
    assert key is not None
    with _lock:
        _up_to_date.add(key)
    return key, changed


def ensure_template(
    *,
    tenant_type: str = "",
    using: str = DEFAULT_DB_ALIAS,
    verbosity: int = 0,
    stdout: IO[str] | TextIOBase | None = None,
) -> bool:
    """Create the template schema (of ``tenant_type``) if it is missing, migrate it if it
    is behind.

    Runs in one transaction, serialised between processes by an advisory lock; returns
    whether the template was changed. Cheap when the template was already found up to
    date by this process.
    """
    return _ensure(using, tenant_type, verbosity=verbosity, stdout=stdout)[1]


def template_clone_script(*, tenant_type: str = "", using: str = DEFAULT_DB_ALIAS) -> CloneScript:
    """The script that copies the up-to-date template (of ``tenant_type``) into the schema
    on the search_path.

    Builds it from the template's catalog on first use for the template's state
    (the tables, and the rows of every table that has rows: migrations, content types,
    permissions and whatever data migrations wrote).
    """
    key, _ = _ensure(using, tenant_type)
    script = _scripts.get(key)
    if script is not None:
        return script
    template = template_schema(tenant_type)
    catalog = read_catalog(template, using=using)
    with public_context():
        rows = tables_with_rows(template, [table.name for table in catalog.tables], using=using)
    script = render_clone_script(
        catalog, build_clone_script(catalog, copy_rows_of=rows), using=using
    )
    with _lock:
        if len(_scripts) >= max(_MAX_SCRIPTS, 2 * len(tenancy_settings.TENANT_TYPES)):
            _scripts.clear()
        _scripts[key] = script
    return script
