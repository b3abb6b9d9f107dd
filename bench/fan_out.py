"""for_each_tenant at scale: publishing one Celery task per active tenant.

    $ python bench/fan_out.py                    # 10,000 tenants, ~1 minute
    $ python bench/fan_out.py --tenants 1000 --rounds 5

A database of its own (``bench_fan_out`` on DATABASE_URL's server, else on the test
suite's embedded server) gets ``--tenants`` active registry rows (no schemas: fanning
out publishes messages and runs nothing), and a fresh Redis (Debian's redis-server) is
the broker; no worker consumes. Interleaved in rounds:

- baseline: the same number of ``apply_async()`` calls in a plain loop, with the
  tenancy header stamping disconnected (plain Celery);
- for_each_tenant: ``for_each_tenant(task)``: the registry read in batches, one
  ``tenant_context`` and one message per tenant.

Prints the median time of each, the ratio, the registry queries, and the broker memory
per queued message.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from celery.signals import before_task_publish  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from psycopg import sql  # noqa: E402

from tenancy_app import public_context  # noqa: E402
from tenancy_app.contrib.celery import for_each_tenant  # noqa: E402
from tenancy_app.contrib.celery.propagation import stamp_headers  # noqa: E402
from tenancy_app.models import Tenant, TenantStatus  # noqa: E402
from tests.celery_app import app  # noqa: E402
from tests.celery_tasks import report  # noqa: E402
from tests.servers import redis_server  # noqa: E402

DATABASE = "bench_fan_out"


def use_fresh_database() -> None:
    params = connection.get_connection_params()
    admin = {k: v for k, v in params.items() if k in ("host", "port", "user", "password")}
    with psycopg.connect(**admin, dbname="postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    connection.close()
    connection.settings_dict["NAME"] = DATABASE
    call_command("migrate_schemas", "--shared", verbosity=0)


def drop_database() -> None:
    params = connection.get_connection_params()
    connection.close()
    admin = {k: v for k, v in params.items() if k in ("host", "port", "user", "password")}
    with psycopg.connect(**admin, dbname="postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    use_fresh_database()
    try:
        with public_context():
            Tenant.objects.bulk_create(
                Tenant(schema_name=f"t{i:05d}", name=f"T{i}", status=TenantStatus.ACTIVE)
                for i in range(args.tenants)
            )
        with redis_server() as url:
            app.conf.update(broker_url=f"{url}/0", result_backend=None, task_ignore_result=True)
            client = app.connection_for_write().default_channel.client
            times: dict[str, list[float]] = {"baseline": [], "for_each_tenant": []}
            queries = per_message = 0.0
            for _ in range(args.rounds):
                before_task_publish.disconnect(stamp_headers, dispatch_uid="tenancy_stamp")
                started = time.perf_counter()
                for _ in range(args.tenants):
                    report.apply_async()
                times["baseline"].append(time.perf_counter() - started)
                before_task_publish.connect(stamp_headers, weak=False, dispatch_uid="tenancy_stamp")
                client.flushdb()
                memory = client.info("memory")["used_memory"]
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as captured:
                    published = len(for_each_tenant(report))
                times["for_each_tenant"].append(time.perf_counter() - started)
                assert published == args.tenants
                queries = len(captured)
                per_message = (client.info("memory")["used_memory"] - memory) / published
                client.flushdb()
    finally:
        drop_database()

    base = statistics.median(times["baseline"])
    fan = statistics.median(times["for_each_tenant"])
    print(f"{args.tenants} active tenants, {args.rounds} rounds, medians:")
    for name, value in (("baseline (plain apply_async loop)", base), ("for_each_tenant", fan)):
        each = value / args.tenants * 1e6
        print(f"  {name:34} {value:7.2f} s  {each:6.0f} us/message  ({value / base:.2f}x)")
    print(
        f"  registry queries: {queries}; broker memory per queued message: {per_message:,.0f} bytes"
    )


if __name__ == "__main__":
    main()
