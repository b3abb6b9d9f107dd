"""The outcome of each schema, and the table in the shared schema that keeps the last one.

Results are written with one ``INSERT ... ON CONFLICT DO UPDATE`` per batch of schemas
(arrays unnested server-side), never one round trip per schema.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from ..conf import tenancy_settings
from ..context import public_context
from ..models import SchemaMigrationResult
from .batching import batched

#: Result rows per upsert statement.
BATCH_SIZE = 1000


class Outcome(enum.Enum):
    MIGRATED = "migrated"
    SKIPPED = "skipped"  # already up to date: nothing ran in the schema
    PENDING = "pending"  # --check: something is left to run
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SchemaResult:
    schema_name: str
    outcome: Outcome
    started_at: datetime.datetime
    finished_at: datetime.datetime
    #: migrations applied or unapplied, e.g. "notes.0002_note_body"
    ran: tuple[str, ...] = ()
    #: migrations still to run in the schema after this run
    pending: int = 0
    error: str = ""
    #: what post_migrate receivers printed (shown with -v 2)
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.MIGRATED, Outcome.SKIPPED)


_UPSERT = """
    INSERT INTO {table} (schema_name, status, error, applied, pending, started_at, finished_at)
    SELECT * FROM unnest(
        %s::varchar[], %s::varchar[], %s::text[], %s::integer[], %s::integer[],
        %s::timestamptz[], %s::timestamptz[]
    )
    ON CONFLICT (schema_name) DO UPDATE SET
        status = EXCLUDED.status, error = EXCLUDED.error, applied = EXCLUDED.applied,
        pending = EXCLUDED.pending, started_at = EXCLUDED.started_at,
        finished_at = EXCLUDED.finished_at
"""

_TABLE_EXISTS = (
    "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
    "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s"
)


def record_results(
    results: Sequence[SchemaResult], *, using: str = DEFAULT_DB_ALIAS, batch_size: int = BATCH_SIZE
) -> bool:
    """Keep each schema's result in the shared table; False when the table does not exist yet
    (the public schema is not migrated to tenancy_app 0002)."""
    results = [r for r in results if r.outcome is not Outcome.PENDING]
    if not results:
        return True
    public = tenancy_settings.PUBLIC_SCHEMA
    db_table = SchemaMigrationResult._meta.db_table
    connection = connections[using]
    with public_context(), connection.cursor() as cursor:
        cursor.execute(_TABLE_EXISTS, [public, db_table])
        if cursor.fetchone() is None:
            return False
        statement = sql.SQL(_UPSERT).format(table=sql.Identifier(public, db_table))
        for batch in batched(results, batch_size):
            cursor.execute(
                statement,
                [
                    [r.schema_name for r in batch],
                    [
                        (
                            SchemaMigrationResult.Status.FAILED
                            if r.outcome is Outcome.FAILED
                            else SchemaMigrationResult.Status.OK
                        ).value
                        for r in batch
                    ],
                    [r.error for r in batch],
                    [len(r.ran) for r in batch],
                    [r.pending for r in batch],
                    [r.started_at for r in batch],
                    [r.finished_at for r in batch],
                ],
            )
    return True
