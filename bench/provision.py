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

On a Citus coordinator (DATABASE_URL pointing at one, e.g. from ../shared/citus/cluster.sh)
the bench runs in DATABASE_URL's own database (a fresh database would lack the extension
and the nodes) and drops the schemas and registry rows it made at the end unless --keep.
Citus refuses the script as one string, so there the baseline is the same statements
replayed with plain psycopg one per round trip, which is what the fast path sends too:

    CITUS_BASE_PORT=9700 ../shared/citus/cluster.sh start /tmp/citus
    DATABASE_URL=postgres://postgres@127.0.0.1:9700/app python bench/provision.py --tenants 20
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
    citus_database = citus_database_of_url()
    database = citus_database or DATABASE
    if citus_database is None:
        create_database(server, DATABASE, fresh=True)
        os.environ["DATABASE_URL"] = database_url(server, DATABASE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    created: list[str] = []
    try:
        run_bench(
            server, database, args.tenants, args.repeat, citus=bool(citus_database), created=created
        )
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            if citus_database is not None:
                drop_schemas(server, database, created)
            else:
                drop_database(server, DATABASE)


def citus_database_of_url() -> str | None:
    """DATABASE_URL's own database when it has the citus extension, else None."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    import environ

    name = str(environ.Env.db_url_config(url)["NAME"])
    with connect(database_server(REPO / ".pgdata" / "bench"), name) as conn:
        row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone()
    return name if row is not None else None


def drop_schemas(server: dict[str, Any], database: str, schemas: list[str]) -> None:
    """Drop the schemas and registry rows the bench made (on Citus, in the user's database)."""
    from psycopg import sql

    with connect(server, database, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM public.tenancy_app_domain WHERE tenant_id IN (SELECT id FROM "
            "public.tenancy_app_tenant WHERE schema_name = ANY(%s))",
            [schemas],
        )
        conn.execute("DELETE FROM public.tenancy_app_tenant WHERE schema_name = ANY(%s)", [schemas])
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def run_bench(
    server: dict[str, Any],
    database: str,
    tenants: int,
    repeat: int,
    *,
    citus: bool,
    created: list[str],
) -> None:
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
    # On Citus the bench shares the user's database: its names carry this run's number.
    prefix = f"b{os.getpid()}_" if citus else ""

    def provision(schema: str, name: str, **kwargs: Any) -> Any:
        created.append(prefix + schema)
        return provision_tenant(
            schema_name=prefix + schema, name=name, domain=f"{prefix}{schema}.bench", **kwargs
        )

    begin = time.perf_counter()
    for i in range(tenants):
        provision(f"t{i:05d}", f"Tenant {i}")
    made = time.perf_counter() - begin
    print(
        f"{tenants} existing tenants made in {made:.1f} s "
        f"({made / max(tenants, 1) * 1e3:.1f} ms each)"
    )

    # The first tenant of a process builds the script from the template's catalog.
    clear_template_cache()
    cold = timed(lambda i: provision(f"cold{i}", "Cold"), 1, 0)[0]
    script = template_clone_script()

    catalog = read_catalog(template)
    with public_context():
        rows = tables_with_rows(template, [t.name for t in catalog.tables])
    statements = build_clone_script(catalog, copy_rows_of=rows)

    plain = connect(server, database)
    statement_texts = [s.as_string(plain) for s in statements]
    insert = (
        "INSERT INTO public.tenancy_app_tenant (schema_name, name, status, created_at, "
        "updated_at) VALUES (%s, %s, 'active', now(), now())"
    )

    def baseline(i: int, *, one_by_one: bool = citus) -> None:
        name = f"{prefix}base{'s' if one_by_one else ''}{i}"
        created.append(name)
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
        fast += timed(lambda i: provision(f"fast{i}", "Fast"), 1, i)
        base += timed(baseline, 1, i)
        if not citus:  # on Citus the baseline is one statement per round trip already
            base_each += timed(lambda i: baseline(i, one_by_one=True), 1, i)
    plain.close()

    migrate_repeat = max(3, repeat // 6)
    migrated = timed(lambda i: provision(f"slow{i}", "Slow", method="migrate"), migrate_repeat, 0)

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    if citus:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
            version += f", Citus {cursor.fetchone()[0]} coordinator"
            cursor.execute("SELECT count(*) FROM pg_dist_node WHERE groupid > 0")
            version += f" with {cursor.fetchone()[0]} workers"
    tables = len(catalog.tables)
    spread = [f"{min(t) * 1e3:.0f}-{max(t) * 1e3:.0f} ms" for t in (base, fast)]
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

    if citus:
        line("baseline: the statements replayed with plain psycopg", base)
    else:
        line("baseline: the script replayed with plain psycopg", base)
    line("fast path: provision_tenant()", fast)
    line("  (first tenant of a process: builds the script)", [cold])
    if base_each:
        line("reference: the script, one statement per round trip", base_each)
    line(f"reference: provision_tenant(method='migrate') (n={migrate_repeat})", migrated)
    print(f"spread (min-max): baseline {spread[0]}, fast path {spread[1]}")


if __name__ == "__main__":
    main()
