"""Backup and restore of one tenant: one self-contained, streamed file, no client binary.

``dump_tenant(tenant, file)`` writes the tenant's registry entry, schema, rows,
sequence positions and migration state; ``restore_tenant(file, schema_name=...)``
recreates it, as a new tenant or over the same name. See ``docs/operations.rst``.
"""

from __future__ import annotations

from .dump import DumpSummary, dump_tenant
from .restore import MigrationCheck, check_migrations, read_header, restore_tenant

__all__ = [
    "DumpSummary",
    "MigrationCheck",
    "check_migrations",
    "dump_tenant",
    "read_header",
    "restore_tenant",
]
