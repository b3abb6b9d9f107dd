"""The parts of the request-path bench that run inside Django (one subprocess each).

    _inprocess.py prepare-plain            the baseline table in public, ROWS_PER_TENANT rows
    _inprocess.py prepare-tenancy N        N tenants t00000..t{N-1}, hosts t00042.bench
    _inprocess.py counts CASE VIEW REQUESTS    statements, round trips and CPU per request
    _inprocess.py requests CASE VIEW N         N requests after a warm-up (for callgrind)

Settings and database come from the environment (see project/settings_base.py). Each
command prints one JSON line last.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import django


def _shift_layout(step: int) -> list[object]:
    """Move what Django allocates next (``BENCH_LAYOUT``, under callgrind): objects first,
    then types whose attribute lookups take the next version tags. CPython's method cache
    is indexed by a type's version tag and a name's address, so where its collisions fall,
    and so about 1 % of the instructions of a request, depends on these; the instruction
    count is averaged over several such layouts."""
    ballast: list[object] = [[None] * (step % 7) for _ in range(step * 37)]
    for i in range(step * 13):
        kind = type(f"Ballast{i}", (), {})
        getattr(kind, "layout", None)
        ballast.append(kind)
    return ballast


_ballast = _shift_layout(int(os.environ.get("BENCH_LAYOUT", "0")))
django.setup()

from _support import VIEWS, host_of  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from project.items.models import ROWS_PER_TENANT, Item, sample_items  # noqa: E402
from psycopg import sql  # noqa: E402

CLONE_BATCH = 100  # schemas per transaction


# Preparing the databases ----------------------------------------------------------------


def prepare_plain() -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    if Item.objects.count() != ROWS_PER_TENANT:
        Item.objects.all().delete()
        Item.objects.bulk_create(sample_items())
    return {"rows": Item.objects.count()}


def prepare_tenancy(tenants: int) -> dict[str, Any]:
    """Make ``tenants`` tenants: t00000 provisioned properly, the others cloned with SQL."""
    from tenancy_app import provision_tenant, public_context, schema_context
    from tenancy_app.models import TenantStatus, get_domain_model, get_tenant_model

    started = time.monotonic()
    call_command("migrate_schemas", "--shared", verbosity=0)
    Tenant, Domain = get_tenant_model(), get_domain_model()
    with public_context():
        if Tenant.objects.filter(status=TenantStatus.ACTIVE).count() == tenants:
            return {"tenants": tenants, "cached": True, "seconds": 0.0}
        if Tenant.objects.exists():
            raise SystemExit(f"{connection.settings_dict['NAME']} holds other tenants: rebuild it")
    source = "t00000"
    provision_tenant(schema_name=source, name="Tenant 00000", domain=host_of(0))
    with schema_context(source):
        Item.objects.bulk_create(sample_items())
    clone_schemas(source, [f"t{i:05d}" for i in range(1, tenants)])
    with public_context(), transaction.atomic():
        made = Tenant.objects.bulk_create(
            [
                Tenant(schema_name=f"t{i:05d}", name=f"Tenant {i:05d}", status=TenantStatus.ACTIVE)
                for i in range(1, tenants)
            ],
            batch_size=2000,
        )
        Domain.objects.bulk_create(
            [Domain(tenant=t, domain=f"{t.schema_name}.bench", is_primary=True) for t in made],
            batch_size=2000,
        )
    return {"tenants": tenants, "cached": False, "seconds": round(time.monotonic() - started, 1)}


def clone_schemas(source: str, targets: list[str]) -> None:
    """Copy ``source``'s tables and rows into each of ``targets`` with top-level SQL.

    One catalog query for the source; then per target CREATE SCHEMA, CREATE TABLE ... (LIKE
    ... INCLUDING ALL), INSERT ... SELECT and a setval of each identity sequence, pipelined,
    CLONE_BATCH schemas per transaction. (Foreign keys are not copied by LIKE; the bench's
    tenant app has none.)
    """
    raw = connection.connection if connection.connection else None
    if raw is None:
        connection.ensure_connection()
        raw = connection.connection
    identity = dict(
        raw.execute(
            "SELECT c.relname, a.attname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attidentity <> ''"
            " WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname",
            [source],
        ).fetchall()
    )
    for start in range(0, len(targets), CLONE_BATCH):
        with raw.transaction(), raw.pipeline():
            for target in targets[start : start + CLONE_BATCH]:
                for statement in clone_statements(source, target, identity, raw):
                    raw.execute(statement)


def clone_statements(
    source: str, target: str, identity: dict[str, str | None], raw: Any
) -> Iterator[sql.Composable]:
    yield sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target))
    for table, column in identity.items():
        src, dst = sql.Identifier(source, table), sql.Identifier(target, table)
        yield sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(dst, src)
        yield sql.SQL("INSERT INTO {} SELECT * FROM {}").format(dst, src)
        if column:
            yield sql.SQL("SELECT setval(pg_get_serial_sequence({}, {}), max({})) FROM {}").format(
                sql.Literal(dst.as_string(raw)), sql.Literal(column), sql.Identifier(column), dst
            )


# Counting statements and round trips ----------------------------------------------------


def get(client: Client, host: str, path: str) -> None:
    response = client.get(path, headers={"host": host})
    if response.status_code != 200 or response.json()["count"] != ROWS_PER_TENANT:
        raise SystemExit(f"GET {host}{path}: {response.status_code} {response.content[:200]!r}")


def measure(client: Client, host: str, path: str) -> tuple[int, int, list[str]]:
    """Statements the server ran, round trips, and the SQL sent, from libpq's trace
    (Django's query log leaves out the backend's own SET, as intended)."""
    from tenancy_app.testing import count_round_trips

    with count_round_trips(connection) as trips:
        get(client, host, path)
    return trips.statements, trips.count, trips.sql


# Each case: hosts to warm up with (connection open, tenant lookups cached), then the
# hosts of the measured requests in order.
CASES: dict[str, tuple[list[str], list[str]]] = {
    "plain": (["plain.bench"] * 3, ["plain.bench"] * 20),
    "same": ([host_of(1)] * 3, [host_of(1)] * 20),
    "switch": ([host_of(i) for i in range(1, 21)], [host_of(i) for i in range(1, 21)]),
    "first": ([host_of(1)], [host_of(i) for i in range(30, 50)]),
}


def cpu_per_request(client: Client, hosts: list[str], path: str, requests: int) -> dict[str, float]:
    """CPU microseconds per request of this process (Django) and of its PostgreSQL backend.

    CPU time, unlike wall time, hardly moves when other processes load the machine.
    """
    import psutil

    backend = psutil.Process(connection.connection.info.backend_pid)
    for host in hosts * 5:
        get(client, host, path)  # warm
    server, client_cpu, wall = sum(backend.cpu_times()[:2]), time.process_time(), time.monotonic()
    for i in range(requests):
        get(client, hosts[i % len(hosts)], path)
    server = sum(backend.cpu_times()[:2]) - server
    return {
        "client_us": (time.process_time() - client_cpu) / requests * 1e6,
        "server_us": server / requests * 1e6,
        "wall_us": (time.monotonic() - wall) / requests * 1e6,
    }


def counts(case: str, view: str, requests: int) -> dict[str, Any]:
    warm, measured = CASES[case]
    path = VIEWS[view]
    client = Client()
    for host in warm:
        get(client, host, path)
    results = [measure(client, host, path) for host in measured]
    statements = [r[0] for r in results]
    trips = [r[1] for r in results]
    cpu = (
        {} if case == "first" or not requests else cpu_per_request(client, measured, path, requests)
    )
    return {
        "statements": sum(statements) / len(results),
        "round_trips": sum(trips) / len(results),
        "min_max": [min(statements), max(statements), min(trips), max(trips)],
        "example": results[-1][2],
        **cpu,
    }


def requests(case: str, view: str, count: int) -> dict[str, Any]:
    """``count`` requests of ``case`` after the same warm-up as :func:`cpu_per_request`,
    counted by callgrind when run under it (see _support.instructions).

    What the warm-up made is moved out of the garbage collector's reach (``gc.freeze()``):
    otherwise a full collection (millions of instructions, over every object of Django)
    falls among the counted requests or not depending on a few allocations since start-up.
    """
    import ctypes
    import gc

    helper = ctypes.CDLL(os.environ["BENCH_CALLGRIND_HELPER"])
    warm, measured = CASES[case]
    path = VIEWS[view]
    client = Client()
    for host in warm + measured * 5:
        get(client, host, path)  # warm, and checks the answers
    hosts = [{"host": measured[i % len(measured)]} for i in range(count)]
    statuses = []
    gc.collect()
    gc.freeze()
    helper.counting_on()
    for headers in hosts:  # only the requests are counted
        statuses.append(client.get(path, headers=headers).status_code)
    helper.counting_off()
    if statuses != [200] * count:
        raise SystemExit(f"GET {path}: {statuses}")
    return {"requests": count}


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "prepare-plain":
        result = prepare_plain()
    elif command == "prepare-tenancy":
        result = prepare_tenancy(int(args[0]))
    elif command == "counts":
        result = counts(args[0], args[1], int(args[2]))
    elif command == "requests":
        result = requests(args[0], args[1], int(args[2]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
