"""A count over many tenants: across_tenants() against the same UNION ALL written by hand.

    python bench/across_tenants.py --tenants 1000

Timed, each the median of --repeat runs, interleaved (one run of each in turn):

- baseline, the same ``UNION ALL`` written by hand: the schema names read from the
  registry (``values_list``), one statement ``SELECT 'acme', count(*) FROM
  "acme"."notes_note" UNION ALL ...`` over every tenant (identifiers through
  ``psycopg.sql.Identifier``), rows into a dict; and the same in statements of 500
  tenants, as across_tenants sends them (PostgreSQL plans one UNION ALL of 1,000
  branches more slowly than two of 500);
- ``across_tenants(Note.objects.all()).count()``: the active tenants read from the
  registry (model instances), the queryset compiled once, one catalog query (which
  schemas have the table), one UNION ALL statement per 500 tenants;
- the same with the tenants given (a list read once beforehand), for reference;
- a loop: ``with tenant_context(t): Note.objects.count()`` for each tenant (one
  ``SET search_path`` and one query per tenant, in the same round trip).

Each tenant has a ``notes_note`` table of 0-9 rows (the table of the test settings'
notes app, copied with plain SQL), in a fresh database on DATABASE_URL's server or the
embedded test server, dropped at the end.
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
    create_database,
    database_server,
    database_url,
    drop_database,
)

DATABASE = "bench_across_tenants"


def prepare(tenants: int) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction
    from psycopg import sql

    from tenancy_app import provision_tenant, public_context
    from tenancy_app.models import Tenant, TenantStatus

    call_command("migrate_schemas", "--shared", verbosity=0)
    provision_tenant(schema_name="t00000", name="t00000")
    names = [f"t{n:05d}" for n in range(1, tenants)]
    with public_context(), transaction.atomic():
        Tenant.objects.bulk_create(
            Tenant(schema_name=name, name=name, status=TenantStatus.ACTIVE) for name in names
        )
        with connection.cursor() as cursor:
            for number, name in enumerate(names, start=1):
                schema = sql.Identifier(name)
                cursor.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
                cursor.execute(
                    sql.SQL(
                        "CREATE TABLE {}.notes_note (LIKE t00000.notes_note INCLUDING ALL)"
                    ).format(schema)
                )
                cursor.execute(
                    sql.SQL(
                        "INSERT INTO {}.notes_note (id, title, created_at) "
                        "SELECT g, 'note', now() FROM generate_series(1, %s) g"
                    ).format(schema),
                    [number % 10],
                )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def by_hand(batch: int | None = None) -> dict[str, int]:
    from django.db import connection
    from psycopg import sql

    from tenancy_app import public_context
    from tenancy_app.models import Tenant, TenantStatus

    with public_context():
        names = list(
            Tenant.objects.filter(status=TenantStatus.ACTIVE)
            .order_by("schema_name")
            .values_list("schema_name", flat=True)
        )
        counts: dict[str, int] = {}
        size = batch or len(names)
        with connection.cursor() as cursor:
            for start in range(0, len(names), size):
                statement = sql.SQL(" UNION ALL ").join(
                    sql.SQL("SELECT {}, count(*) FROM {}.notes_note").format(
                        sql.Literal(name), sql.Identifier(name)
                    )
                    for name in names[start : start + size]
                )
                cursor.execute(statement.as_string(connection.connection))
                counts.update(cursor.fetchall())
        return counts


def across(tenants: Any = None) -> dict[Any, int]:
    from tenancy_app import across_tenants
    from tests.notes.models import Note

    return across_tenants(Note.objects.all(), tenants).count()


def loop() -> dict[str, int]:
    from tenancy_app import public_context, tenant_context
    from tenancy_app.models import Tenant, TenantStatus
    from tests.notes.models import Note

    with public_context():
        tenants = list(Tenant.objects.filter(status=TenantStatus.ACTIVE).order_by("schema_name"))
    counts = {}
    for tenant in tenants:
        with tenant_context(tenant):
            counts[tenant.schema_name] = Note.objects.count()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per case")
    args = parser.parse_args()
    server = database_server(REPO / ".pgdata" / "bench")
    create_database(server, DATABASE, fresh=True)
    os.environ["DATABASE_URL"] = database_url(server, DATABASE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(REPO))
    try:
        import django

        django.setup()
        from django.db import connection, reset_queries
        from django.test.utils import CaptureQueriesContext

        from tenancy_app import public_context
        from tenancy_app.models import Tenant

        started = time.perf_counter()
        prepare(args.tenants)
        print(f"{args.tenants} tenants prepared in {time.perf_counter() - started:.1f} s\n")
        with public_context():
            given = list(Tenant.objects.order_by("schema_name"))
        expected = by_hand()
        assert {t.schema_name: n for t, n in across().items()} == expected
        assert loop() == expected
        cases: dict[str, Callable[[], object]] = {
            "UNION ALL by hand (baseline)": by_hand,
            "  by hand, batches of 500": lambda: by_hand(500),
            "across_tenants().count()": across,
            "  with the tenants given": lambda: across(given),
            "loop, one query per tenant": loop,
        }
        statements = {}
        for name, run in cases.items():
            run()  # the session's search_path as the case leaves it (a SET is not counted)
            with CaptureQueriesContext(connection) as queries:
                run()
            statements[name] = len(queries)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, run in cases.items():
                reset_queries()
                begin = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - begin)
        base = statistics.median(times["UNION ALL by hand (baseline)"])
        print(
            f"  {'case':<30} {'statements':>10} {'median ms':>10} {'min-max ms':>14} {'ratio':>7}"
        )
        for name, values in times.items():
            median = statistics.median(values)
            spread = f"{min(values) * 1000:.1f}-{max(values) * 1000:.1f}"
            print(
                f"  {name:<30} {statements[name]:>10} {median * 1000:>10.1f} {spread:>14} "
                f"{median / base:>7.2f}"
            )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(server, DATABASE)


if __name__ == "__main__":
    main()
