"""Recreate a tenant from a dump file, as a new tenant or over the same name.

Everything happens in one transaction: the registry rows, ``CREATE SCHEMA``, the DDL
before the rows, each table's rows streamed from the file into ``COPY ... FROM STDIN``,
the sequences' positions, the DDL after the rows, the check of the file's checksum, the
migrations the file lacks, the status. A file that turns out to be corrupt or truncated
at any point, or any other failure, rolls all of it back: nothing is created.

Before any SQL, the file's migrations are compared with the migration files on disk: a
file that holds migrations this code does not know is refused
(:class:`~tenancy_app.exceptions.DumpAheadOfCode`); a file that lacks some is restored
and then migrated.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from ..audit import Action, operation
from ..cloning import CloneScript, run_clone_script
from ..context import public_context
from ..exceptions import (
    DumpAheadOfCode,
    InvalidDumpFile,
    ProvisioningError,
    SchemaAlreadyExists,
    TenantAlreadyExists,
    TenantError,
)
from ..leases import fence
from ..migrator import migrate_schema
from ..models import (
    TenantBase,
    TenantStatus,
    get_domain_model,
    get_tenant_model,
    validate_host_name,
    validate_tenant_schema_name,
)
from ..schemas import create_schema, drop_schema, rename_schema, schema_exists
from ..tenant_types import validate_tenant_type
from .dump import FORMAT
from .frames import FrameReader

OnTable = Callable[[str, int], None]
OnWait = Callable[[float], None]
_HEADER_KEYS = ("format", "schema_name", "tenant", "migrations", "tables", "before", "after")


@dataclass(frozen=True, slots=True)
class MigrationCheck:
    """The file's migrations against the files on disk."""

    #: in the file, unknown to this code (the file is ahead)
    unknown: list[str]
    #: on disk, not in the file (the restored schema is migrated)
    missing: list[str]


def check_migrations(recorded: Sequence[Sequence[str]]) -> MigrationCheck:
    """Compare a dump's applied migrations with the migration files (no SQL)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    nodes = set(loader.graph.nodes)
    replaced = {key: set(migration.replaces) for key, migration in loader.replacements.items()}
    known = nodes | {key for keys in replaced.values() for key in keys}
    applied = {(str(app), str(name)) for app, name in recorded}
    unknown = sorted(f"{app}.{name}" for app, name in applied - known)
    missing = sorted(
        f"{app}.{name}"
        for app, name in nodes
        if (app, name) not in applied
        and not ((app, name) in replaced and replaced[(app, name)] <= applied)
    )
    return MigrationCheck(unknown, missing)


def read_header(reader: FrameReader) -> dict[str, Any]:
    header = reader.json(b"H")
    if not isinstance(header, dict) or any(key not in header for key in _HEADER_KEYS):
        raise InvalidDumpFile("The dump file's header is damaged.")
    if header["format"] != FORMAT:
        raise InvalidDumpFile(
            f"The dump file has format {header['format']!r}; this code reads format {FORMAT}: "
            "restore it with the version of tenancy_app that made it."
        )
    return header


class _Step:
    current = "reading the dump"


@contextmanager
def _restoring(schema_name: str, reader: FrameReader) -> Iterator[_Step]:
    """Errors a caller can act on pass unchanged; the rest name the step that failed,
    unless the dump file turns out to be damaged (which is then the error)."""
    step = _Step()
    try:
        yield step
    except TenantError:
        raise
    except Exception as exc:
        damage = reader.damage()  # the transaction is rolled back: no SQL runs meanwhile
        if damage is not None:
            raise damage from exc
        raise _restore_error(schema_name, step, exc) from exc


def _restore_error(schema_name: str, step: _Step, exc: Exception) -> TenantError:
    if isinstance(exc, IntegrityError) and step.current.startswith("registering"):
        return TenantAlreadyExists(
            f"A tenant with schema {schema_name!r}, or one of the dump's domains, already "
            "exists: choose another schema name, or give --domain or --no-domain."
        )
    return ProvisioningError(schema_name, step.current, exc)


def _new_tenant(header: dict[str, Any], schema_name: str, name: str | None) -> TenantBase:
    """The tenant to register, with the dumped fields (not saved)."""
    entry = header["tenant"]
    model = get_tenant_model()
    tenant = model(schema_name=schema_name, name=name or entry["name"])
    tenant.status = TenantStatus.PROVISIONING
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    for attname, value in (entry.get("fields") or {}).items():
        field = by_attname.get(attname)
        if field is not None and not field.primary_key:
            setattr(tenant, attname, None if value is None else field.to_python(value))
    tenant.type = validate_tenant_type(getattr(tenant, "type", "") or None)
    return tenant


def _add_domains(
    tenant: TenantBase, header: dict[str, Any], domains: Sequence[str] | None, using: str
) -> None:
    rows: list[dict[str, Any]] = (
        [{"domain": domain, "is_primary": index == 0} for index, domain in enumerate(domains)]
        if domains is not None
        else header["tenant"].get("domains") or []
    )
    domain_model: Any = get_domain_model()
    with transaction.atomic(using=using):
        for row in rows:
            domain_model(tenant=tenant, domain=row["domain"], is_primary=row["is_primary"]).save(
                using=using
            )


def _load_tables(
    reader: FrameReader, header: dict[str, Any], schema: str, using: str, on_table: OnTable | None
) -> None:
    for table in header["tables"]:
        found = reader.json(b"T")
        if found.get("table") != table["name"]:
            raise InvalidDumpFile("The dump file is damaged: its tables are out of order.")
        statement = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
            sql.Identifier(schema),
            sql.Identifier(table["name"]),
            sql.SQL(", ").join(sql.Identifier(column) for column in table["columns"]),
        )
        with connections[using].cursor() as cursor:
            with cursor.copy(statement) as copy:
                while True:
                    kind, payload = reader.next()
                    if kind == b"E":
                        break
                    if kind != b"D":
                        raise InvalidDumpFile(f"The dump file is damaged in {table['name']!r}.")
                    copy.write(payload)
            loaded = cursor.rowcount
        expected = _json(payload).get("rows")
        if loaded != expected:
            raise InvalidDumpFile(
                f"The dump file is damaged: {table['name']!r} holds {loaded} rows, not {expected}."
            )
        if on_table is not None:
            on_table(table["name"], loaded)


def _json(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise InvalidDumpFile("The dump file is damaged (unreadable frame).") from exc
    if not isinstance(value, dict):
        raise InvalidDumpFile("The dump file is damaged (unexpected frame).")
    return value


def _set_sequences(positions: list[list[Any]], schema: str, using: str) -> None:
    if not positions:
        return
    raw = connections[using].connection
    names = [sql.Identifier(schema, name).as_string(raw) for name, _, _ in positions]
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT pg_catalog.setval(v.name::regclass, v.position, v.called) "
            "FROM unnest(%s::text[], %s::bigint[], %s::boolean[]) AS v(name, position, called)",
            [names, [p[1] for p in positions], [p[2] for p in positions]],
        )


def _run(statements: list[str], source: str, schema: str, using: str) -> None:
    if statements:
        text = ";\n".join(statements) + ";"
        run_clone_script(CloneScript(source, text, tuple(statements)), schema, using=using)


def _replaced(model: type[TenantBase], schema_name: str, using: str) -> TenantBase | None:
    """The tenant ``--replace`` deletes (locked), after checking it may."""
    old = model._default_manager.using(using).select_for_update()
    tenant = old.filter(schema_name=schema_name).first()
    if tenant is None and schema_exists(schema_name, using=using):
        raise SchemaAlreadyExists(
            f"The schema {schema_name!r} exists but no tenant owns it: --replace replaces a "
            "tenant only (drop an orphan schema with `check_tenants --drop-orphan`)."
        )
    return tenant


def restore_tenant(
    file: IO[bytes],
    *,
    schema_name: str,
    name: str | None = None,
    domains: Sequence[str] | None = None,
    replace: bool = False,
    using: str = DEFAULT_DB_ALIAS,
    on_table: OnTable | None = None,
    on_wait: OnWait | None = None,
) -> TenantBase:
    """Create the tenant of the dump ``file`` (a binary file) under ``schema_name``.

    ``name`` defaults to the dumped tenant's. ``domains``: ``None`` restores the dump's
    domains, a list gives the new tenant these instead (the first is primary), ``[]``
    none. The restored tenant gets the dumped status if it was active or suspended,
    else active.

    ``replace=True`` replaces the tenant registered under ``schema_name``, if any: the
    dump is restored into a schema of a passing name, and only then, in the same
    transaction, is the old tenant deleted with its schema and the new schema renamed.
    The name is fenced first, as for a deletion (:func:`tenancy_app.leases.fence`):
    the restore waits ``TENANCY["REGISTRY_MAX_AGE"]`` and the tenant is unavailable
    (503) until it commits.

    The tenant keeps its dumped type, which must be one the project configures
    (:class:`~tenancy_app.exceptions.UnknownTenantType` otherwise, before any SQL).

    Raises :class:`~tenancy_app.exceptions.InvalidSchemaName` (before anything),
    :class:`~tenancy_app.exceptions.InvalidDumpFile`,
    :class:`~tenancy_app.exceptions.DumpAheadOfCode`,
    :class:`~tenancy_app.exceptions.TenantAlreadyExists`,
    :class:`~tenancy_app.exceptions.SchemaAlreadyExists` or
    :class:`~tenancy_app.exceptions.ProvisioningError`; none leaves anything behind.
    """
    validate_tenant_schema_name(schema_name)
    for domain in domains or ():
        validate_host_name(domain)
    reader = FrameReader(file)
    header = read_header(reader)
    migrations = check_migrations(header["migrations"])
    if migrations.unknown:
        raise DumpAheadOfCode(migrations.unknown)
    parameters = {
        "source_schema": header["schema_name"],
        "dumped_at": header.get("created_at"),
        "replace": replace,
        "migrations_run": len(migrations.missing),
    }
    # Under --replace the name is fenced: nothing may run in a schema of that name (this
    # process included) until the restore commits, so the rows go to a passing name.
    build = f"tenancy_restore_{secrets.token_hex(6)}" if replace else schema_name
    tenant = _new_tenant(header, build, name)  # refuses a type not configured, before SQL
    source = header["schema_name"]
    with (
        operation(Action.RESTORE, schema_name, parameters, using=using) as op,
        _restoring(schema_name, reader) as step,
        public_context(),
        fence([schema_name] if replace else [], using=using, on_wait=on_wait),
        transaction.atomic(using=using),
    ):
        old = _replaced(get_tenant_model(), schema_name, using) if replace else None
        step.current = "registering the tenant"
        with transaction.atomic(using=using):
            tenant.save(using=using)
        op.set_tenant(tenant)
        if not replace:
            _add_domains(tenant, header, domains, using)
        step.current = "creating the schema"
        create_schema(build, using=using)
        step.current = "creating the tables"
        _run(header["before"], source, build, using)
        step.current = "loading the rows"
        _load_tables(reader, header, build, using, on_table)
        step.current = "setting the sequences"
        _set_sequences(reader.json(b"S"), build, using)
        step.current = "adding constraints, indexes and views"
        _run(header["after"], source, build, using)
        step.current = "checking the dump file"
        reader.finish()
        if migrations.missing:
            step.current = "migrating the schema"
            with connections[using].cursor() as cursor:
                # Migrations alter tables: no deferred check may be pending on them.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            migrate_schema(build, using=using, tenant=tenant)  # the router needs its type
        if replace:
            step.current = "replacing the tenant"
            if old is not None:
                op.parameters["replaced_tenant"] = str(old.pk)
                old.delete(using=using)
                drop_schema(schema_name, using=using)
            rename_schema(build, schema_name, using=using)
            tenant.schema_name = schema_name
            step.current = "registering the tenant"
            _add_domains(tenant, header, domains, using)
        step.current = "activating the tenant"
        dumped = header["tenant"].get("status")
        tenant.status = (
            dumped
            if dumped in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED)
            else TenantStatus.ACTIVE
        )
        tenant.save(using=using, update_fields=["schema_name", "status", "updated_at"])
    return tenant


__all__ = ["MigrationCheck", "check_migrations", "read_header", "restore_tenant"]
