"""The tenant list of the public admin with many tenants: statements and time per page.

    python bench/admin_list.py --tenants 1000

Baseline, in the same run and database: Django's own changelist of ``auth.User`` with as
many users, at the same page sizes (a plain admin list: no subqueries, no schema sizes,
no migration state). Printed per page size: statements per request (which must not
depend on the page size) and the median time of a request, with the ratio to the
baseline.

The tenants are registry rows (an active tenant and its primary domain), each with a
schema holding one small table and a ``django_migrations`` table with every migration,
and a recorded migrate_schemas result; made with plain SQL in a few statements per
batch, in a fresh database on DATABASE_URL's server or the embedded test server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

from _support import REPO, create_database, database_server, database_url, drop_database

DATABASE = "bench_admin_list"
PAGE_SIZES = (10, 100)


def prepare(tenants: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from psycopg import sql

    from tenancy_app import public_context
    from tenancy_app.models import Domain, SchemaMigrationResult, Tenant, TenantStatus

    call_command("migrate_schemas", "--shared", verbosity=0)
    names = [f"t{n:05d}" for n in range(tenants)]
    now = timezone.now()
    with public_context(), transaction.atomic():
        Tenant.objects.bulk_create(
            Tenant(schema_name=name, name=f"Tenant {name}", status=TenantStatus.ACTIVE)
            for name in names
        )
        Domain.objects.bulk_create(
            Domain(tenant=tenant, domain=f"{tenant.schema_name}.bench", is_primary=True)
            for tenant in Tenant.objects.all()
        )
        SchemaMigrationResult.objects.bulk_create(
            SchemaMigrationResult(schema_name=name, status="ok", started_at=now, finished_at=now)
            for name in names
        )
        User = get_user_model()
        User.objects.bulk_create(User(username=f"user{n:05d}") for n in range(tenants))
        User.objects.create_superuser("operator", "", "pw")
        with connection.cursor() as cursor:
            for name in names:
                schema = sql.Identifier(name)
                cursor.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
                cursor.execute(
                    sql.SQL(
                        "CREATE TABLE {}.items AS SELECT g AS id FROM generate_series(1, 50) g"
                    ).format(schema)
                )
                copy = "CREATE TABLE {}.django_migrations AS SELECT * FROM public.django_migrations"
                cursor.execute(sql.SQL(copy).format(schema))


def measure(path: str, per_page: int, requests: int) -> tuple[int, float]:
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tenancy_app import public_context
    from tenancy_app.models import Tenant

    for model in (Tenant, get_user_model()):
        admin.site._registry[model].list_per_page = per_page
    client = Client(HTTP_HOST="public.test")
    with public_context():
        client.force_login(get_user_model().objects.get(username="operator"))
    client.get(path)  # warm up: session, content types, the migration graph
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.status_code
    statements = len(queries)  # now: every later request empties Django's query log
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        client.get(path)
        times.append(time.perf_counter() - start)
    return statements, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per case")
    args = parser.parse_args()
    server = database_server(REPO / ".pgdata" / "bench")
    create_database(server, DATABASE, fresh=True)
    os.environ["DATABASE_URL"] = database_url(server, DATABASE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(REPO))
    try:
        import django

        django.setup()
        started = time.perf_counter()
        prepare(args.tenants)
        print(f"{args.tenants} tenants prepared in {time.perf_counter() - started:.1f} s\n")
        print(f"  {'page':>5}  {'list':<28} {'statements':>10} {'median ms':>10} {'ratio':>7}")
        for per_page in PAGE_SIZES:
            base: Any = measure("/admin/auth/user/", per_page, args.requests)
            tenants: Any = measure("/admin/tenancy_app/tenant/", per_page, args.requests)
            print(
                f"  {per_page:>5}  {'auth.User (baseline)':<28} {base[0]:>10} "
                f"{base[1] * 1000:>10.1f} {1:>7.2f}"
            )
            print(
                f"  {per_page:>5}  {'tenancy_app.Tenant':<28} {tenants[0]:>10} "
                f"{tenants[1] * 1000:>10.1f} {tenants[1] / base[1]:>7.2f}"
            )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(server, DATABASE)


if __name__ == "__main__":
    main()
