"""Write one tenant to one self-contained file, streaming, with no client binary.

What the file holds (see :mod:`.frames` for the framing): a header with the tenant's
registry entry (name, status, other fields, domains), its schema's applied migrations
and the DDL that rebuilds the schema (built by :mod:`tenancy_app.cloning` from the
schema's catalog, split where the rows go); then each table's rows in ``COPY`` text
format, in chunks; then every sequence's position. Everything is read in one
``REPEATABLE READ`` transaction with the tables locked against DDL (``ACCESS SHARE``,
writers are not blocked), so the file is one consistent moment of the tenant, and no
row is held in memory: rows go from the server to the file chunk by chunk.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import IO, Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone
from psycopg import sql

from ..audit import Action, audited
from ..cloning import SchemaCatalog, build_clone_script, read_catalog
from ..context import public_context
from ..exceptions import CloneNotSupported, SchemaNotFound
from ..models import TenantBase, get_domain_model
from ..names import validate_schema_name
from ..schemas import schema_exists
from .frames import CHUNK, FrameWriter

FORMAT = 1
OnTable = Callable[[str, int, int], None]

#: Tenant fields the restore sets itself; every other concrete field is carried over.
_OWN_FIELDS = frozenset({"schema_name", "name", "status", "created_at", "updated_at"})


@dataclass(frozen=True, slots=True)
class DumpSummary:
    schema_name: str
    tables: int
    rows: int
    #: bytes of table data before compression
    data_bytes: int


def _package_version() -> str:
    try:
        return version("tenancy-app")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def tenant_fields(tenant: TenantBase) -> dict[str, str | None]:
    """The tenant's other concrete fields as text (``Field.value_to_string``)."""
    return {
        field.attname: None if field.value_from_object(tenant) is None
        else field.value_to_string(tenant)
        for field in tenant._meta.concrete_fields
        if not field.primary_key and field.name not in _OWN_FIELDS
    }  # fmt: skip


@contextmanager
def _snapshot(using: str) -> Iterator[None]:
    """One consistent view: the caller's transaction, else a REPEATABLE READ one."""
    connection = connections[using]
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _split_script(catalog: SchemaCatalog, using: str) -> tuple[list[str], list[str]]:
    """The DDL before the rows (sequences, tables) and after them (constraints, indexes,
    foreign keys, views, comments), each statement rendered to text."""
    marker = sql.SQL("")
    statements = build_clone_script(catalog, set_sequences="none", rows_marker=marker)
    at = next(index for index, statement in enumerate(statements) if statement is marker)
    raw = connections[using].connection
    render = [statement.as_string(raw) for statement in statements]
    return render[:at], render[at + 1 :]


def _registry_entry(tenant: TenantBase, using: str) -> dict[str, Any]:
    domains = get_domain_model()._default_manager.using(using).filter(tenant_id=tenant.pk)
    return {
        "name": tenant.name,
        "status": tenant.status,
        "fields": tenant_fields(tenant),
        "domains": [
            {"domain": domain.domain, "is_primary": domain.is_primary}
            for domain in domains.order_by("-is_primary", "domain")
        ],
    }


def _migrations(schema: str, catalog: SchemaCatalog, using: str) -> list[list[str]]:
    if "django_migrations" not in {table.name for table in catalog.tables}:
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT app, name FROM {}.django_migrations ORDER BY id").format(
                sql.Identifier(schema)
            )
        )
        return [[app, name] for app, name in cursor.fetchall()]


def _sequence_positions(schema: str, catalog: SchemaCatalog, using: str) -> list[list[Any]]:
    if not catalog.sequences:
        return []
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, last_value, is_called FROM {}.{}").format(
            sql.Literal(sequence.name), sql.Identifier(schema), sql.Identifier(sequence.name)
        )
        for sequence in catalog.sequences
    )
    with connections[using].cursor() as cursor:
        cursor.execute(query)
        return [list(row) for row in cursor.fetchall()]


def _copy_table(
    writer: FrameWriter, schema: str, table: str, columns: list[str], using: str
) -> tuple[int, int]:
    """Stream one table's rows into data frames; returns (rows, bytes)."""
    statement = sql.SQL("COPY {}.{} ({}) TO STDOUT").format(
        sql.Identifier(schema),
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(column) for column in columns),
    )
    rows = size = 0
    buffer = bytearray()
    with connections[using].cursor() as cursor, cursor.copy(statement) as copy:
        for data in copy:
            buffer += data
            if len(buffer) >= CHUNK:
                rows += buffer.count(b"\n")  # COPY text: one line per row, newlines escaped
                size += len(buffer)
                writer.frame(b"D", buffer)
                buffer = bytearray()
    if buffer:
        rows += buffer.count(b"\n")
        size += len(buffer)
        writer.frame(b"D", buffer)
    return rows, size


@audited(Action.DUMP, tenant="tenant")
def dump_tenant(
    tenant: TenantBase,
    out: IO[bytes],
    *,
    using: str = DEFAULT_DB_ALIAS,
    compresslevel: int = 1,
    on_table: OnTable | None = None,
) -> DumpSummary:
    """Write ``tenant`` (registry entry, schema, rows, sequences, migrations) to ``out``.

    ``out`` is a binary file open for writing; it is written from start to end, so a
    pipe or a socket will do. Raises :class:`~tenancy_app.exceptions.SchemaNotFound`
    and :class:`~tenancy_app.exceptions.CloneNotSupported` (the schema holds objects
    the DDL builder does not reproduce: functions, triggers, types...; ``pg_dump -n``
    copies those) before anything is written. ``on_table(name, rows, bytes)`` is
    called after each table.
    """
    schema = validate_schema_name(tenant.schema_name)
    with public_context(), _snapshot(using):
        if not schema_exists(schema, using=using):
            raise SchemaNotFound(f"The schema {schema!r} of {tenant} does not exist.")
        try:
            catalog = read_catalog(schema, using=using)
        except CloneNotSupported as exc:
            raise CloneNotSupported(
                schema, [*exc.objects, "(`pg_dump -n` copies such schemas)"]
            ) from exc
        tables = catalog.tables
        if tables:
            with connections[using].cursor() as cursor:
                cursor.execute(
                    sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
                        sql.SQL(", ").join(sql.Identifier(schema, t.name) for t in tables)
                    )
                )
        before, after = _split_script(catalog, using)
        columns = {t.name: [c.name for c in t.columns if not c.generated] for t in tables}
        header = {
            "format": FORMAT,
            "tenancy_app": _package_version(),
            "created_at": timezone.now().isoformat(),
            "server_version": connections[using].connection.info.server_version,
            "schema_name": schema,
            "tenant": _registry_entry(tenant, using),
            "migrations": _migrations(schema, catalog, using),
            "tables": [{"name": t.name, "columns": columns[t.name]} for t in tables],
            "before": before,
            "after": after,
        }
        writer = FrameWriter(out, compresslevel=compresslevel)
        writer.json(b"H", header)
        total_rows = total_bytes = 0
        for table in tables:
            writer.json(b"T", {"table": table.name})
            rows, size = _copy_table(writer, schema, table.name, columns[table.name], using)
            writer.json(b"E", {"rows": rows})
            total_rows, total_bytes = total_rows + rows, total_bytes + size
            if on_table is not None:
                on_table(table.name, rows, size)
        writer.json(b"S", _sequence_positions(schema, catalog, using))
        writer.close()
    return DumpSummary(schema, len(tables), total_rows, total_bytes)


def dumped_at(header: dict[str, Any]) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(str(header.get("created_at")))
    except ValueError:
        return None
