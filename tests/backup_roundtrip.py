"""Dump a filled tenant and restore it under another name, on DATABASE_URL's server.

    DATABASE_URL=postgres://... DJANGO_SETTINGS_MODULE=tests.settings \\
        python -m tests.backup_roundtrip

Run by tests/test_backup.py against Debian's PostgreSQL 15, in a process of its own (the
suite's own connection is to PostgreSQL 18). It migrates the (empty) database, provisions
a tenant, fills it, dumps it through the command, restores it through the command, and
prints one JSON line: the server version and the differences between the two schemas'
catalogs and rows (empty lists when they are equal).
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tenancy_app import provision_tenant
    from tests.backup_support import all_rows, fill
    from tests.catalog import differences, schema_catalog

    call_command("migrate_schemas", verbosity=0)
    tenant = provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    fill(tenant)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "acme.dump"
        call_command("dump_tenant", "--schema", "acme", "-o", str(path), stdout=io.StringIO())
        call_command(
            "restore_tenant", str(path), "--schema", "acme_copy", "--no-domain",
            stdout=io.StringIO(),
        )  # fmt: skip
    connection.ensure_connection()
    print(
        json.dumps(
            {
                "server_version": connection.connection.info.server_version,
                "catalog": differences(schema_catalog("acme"), schema_catalog("acme_copy")),
                "rows": differences(all_rows("acme"), all_rows("acme_copy")),
                "tables": len(all_rows("acme_copy")),
            }
        )
    )


if __name__ == "__main__":
    main()
