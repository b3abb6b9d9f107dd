"""Time to create one tenant: the fast path against replaying the same SQL with plain psycopg.

    python bench/provision.py --tenants 100
    python bench/provision.py --tenants 1000

What is timed, per new tenant (median of --repeat runs, each in its own transaction,
committed):

- fast path: ``provision_tenant(schema_name=..., name=..., domain=...)`` — validation,
  the template check, registry rows (tenant, domain), CREATE SCHEMA, the copy script
  (every tenant table, index, constraint, the post-migrate rows, sequence positions),
  activation, commit;
- baseline: the same statements with plain psycopg on one open connection, no Django —
  BEGIN, CREATE SCHEMA, SET LOCAL search_path, the same script text in one round trip,
  one INSERT of the registry row, COMMIT;
- baseline, one statement per round trip: the same, each statement sent on its own
  (how a replay of ``sqlmigrate`` output would send them), for reference;
- plain migrations: ``provision_tenant(..., method="migrate")`` (Django's migrate and
  its post-migrate handlers in the new schema), for reference.

The tenant apps are those of the test settings (contenttypes, auth, sessions, messages,
admin, tests.notes, tests.inventory: ten migrations with a RunPython data migration and
an AddIndex). The database is a fresh one on DATABASE_URL's server, else on the embedded
server of the test suite, with --tenants existing tenants made first; it is dropped at the
end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _support import (  # bench/ is on sys.path
    REPO,
    connect,
    create_database,
    database_server,
    database_url,
    drop_database,
)

sys.path.insert(0, str(REPO))
DATABASE = "bench_provision"


def timed(run: Callable[[int], object], repeat: int, start: int) -> list[float]:
    times = []
    for i in range(start, start + repeat):
        begin = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - begin)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=100, help="existing tenants (default 100)")
    parser.add_argument("--repeat", type=int, default=30, help="new tenants per method")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    server = database_server(REPO / ".pgdata" / "bench")
    create_database(server, DATABASE, fresh=True)
    os.environ["DATABASE_URL"] = database_url(server, DATABASE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    try:
        run_bench(server, args.tenants, args.repeat)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(server, DATABASE)


def run_bench(server: dict[str, Any], tenants: int, repeat: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from psycopg import sql

    from tenancy_app import provision_tenant, public_context
    from tenancy_app.cloning import build_clone_script, read_catalog, tables_with_rows
    from tenancy_app.conf import tenancy_settings
    from tenancy_app.template_schema import clear_template_cache, template_clone_script

    with public_context():
        call_command("migrate", verbosity=0)
    template = tenancy_settings.TEMPLATE_SCHEMA

    begin = time.perf_counter()
    for i in range(tenants):
        provision_tenant(schema_name=f"t{i:05d}", name=f"Tenant {i}", domain=f"t{i:05d}.bench")
    made = time.perf_counter() - begin
    print(
        f"{tenants} existing tenants made in {made:.1f} s "
        f"({made / max(tenants, 1) * 1e3:.1f} ms each)"
    )

    # The first tenant of a process builds the script from the template's catalog.
    clear_template_cache()
    cold = timed(
        lambda i: provision_tenant(schema_name=f"cold{i}", name="Cold", domain=f"cold{i}.bench"),
        1,
        0,
    )[0]
    script = template_clone_script()

    catalog = read_catalog(template)
    with public_context():
        rows = tables_with_rows(template, [t.name for t in catalog.tables])
    statements = build_clone_script(catalog, copy_rows_of=rows)

    plain = connect(server, DATABASE)
    statement_texts = [s.as_string(plain) for s in statements]
    insert = (
        "INSERT INTO public.tenancy_app_tenant (schema_name, name, status, created_at, "
        "updated_at) VALUES (%s, %s, 'active', now(), now())"
    )

    def baseline(i: int, *, one_by_one: bool = False) -> None:
        name = f"base{'s' if one_by_one else ''}{i}"
        with plain.transaction():
            plain.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
            plain.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(name)))
            if one_by_one:
                for text in statement_texts:
                    plain.execute(text.encode())
            else:
                plain.execute(script.text.encode())
            plain.execute(insert, [name, "Baseline"])

    # Interleaved, so that both sides meet the same load on the machine.
    fast: list[float] = []
    base: list[float] = []
    base_each: list[float] = []
    for i in range(repeat):
        fast += timed(
            lambda i: provision_tenant(
                schema_name=f"fast{i}", name="Fast", domain=f"fast{i}.bench"
            ),
            1,
            i,
        )
        base += timed(baseline, 1, i)
        base_each += timed(lambda i: baseline(i, one_by_one=True), 1, i)
    plain.close()

    migrate_repeat = max(3, repeat // 6)
    migrated = timed(
        lambda i: provision_tenant(
            schema_name=f"slow{i}", name="Slow", domain=f"slow{i}.bench", method="migrate"
        ),
        migrate_repeat,
        0,
    )

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    tables = len(catalog.tables)
    print(
        f"PostgreSQL {version}; tenant apps: {', '.join(tenancy_settings.TENANT_APPS)}\n"
        f"one tenant = {tables} tables, {len(catalog.indexes)} indexes, "
        f"{len(catalog.constraints)} constraints, rows of {len(rows)} tables; "
        f"script: {script.statement_count} statements\n"
    )
    base_median = statistics.median(base)
    print(f"creating one tenant with {tenants} existing tenants (median of {repeat}):")
    print(f"  {'method':<52} {'ms':>8} {'x baseline':>11}")

    def line(label: str, times: list[float]) -> None:
        median = statistics.median(times)
        print(f"  {label:<52} {median * 1e3:8.1f} {median / base_median:10.2f}x")

    line("baseline: the script replayed with plain psycopg", base)
    line("fast path: provision_tenant()", fast)
    line("  (first tenant of a process: builds the script)", [cold])
    line("reference: the script, one statement per round trip", base_each)
    line(f"reference: provision_tenant(method='migrate') (n={migrate_repeat})", migrated)


if __name__ == "__main__":
    main()
