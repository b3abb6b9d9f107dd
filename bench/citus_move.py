"""Moving a tenant between Citus workers while the app writes to it: errors, lost rows, rate.

    CITUS_BASE_PORT=9700 ../shared/citus/cluster.sh start /tmp/citus
    DATABASE_URL=postgres://postgres@127.0.0.1:9700/app python bench/citus_move.py --rows 300000

What is measured: gunicorn (2 sync workers) serves the test project (tests.citus_settings)
from a Citus coordinator; --writers client threads POST one note each per request to a
tenant ("write through the app": middleware, lease, ORM insert, commit). After a warm-up
the writes run --before seconds with the tenant in place (the baseline), then while
``move_tenant()`` moves it to the other worker (``citus_schema_move``, logical
replication), then --after seconds. Reported: the move's duration and the tenant's size,
writes per second and latency during the move against the baseline, failed requests,
and lost rows (every acknowledged write must be in the table afterwards, under the id
the app returned).

The bench needs DATABASE_URL pointing at a coordinator with two workers; it creates the
tenant ``movebench_<pid>`` (seeded with --rows notes) and drops it at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SETTINGS = "tests.citus_settings"


@dataclass
class Writes:
    acknowledged: dict[str, int] = field(default_factory=dict)
    at: list[tuple[float, float]] = field(default_factory=list)  # (finished, latency)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def between(self, start: float, end: float) -> list[float]:
        return [latency for finished, latency in self.at if start <= finished < end]


def quoted(template: str, schema: str) -> str:
    """``template`` with ``{}`` replaced by the quoted schema name."""
    from django.db import connection
    from psycopg import sql

    connection.ensure_connection()
    return sql.SQL(template).format(sql.Identifier(schema)).as_string(connection.connection)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(port: int, host: str, title: str) -> tuple[int, dict[str, object] | str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/write/",
            body=urllib.parse.urlencode({"title": title}),
            headers={"Host": host, "Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        text = response.read().decode()
        return response.status, json.loads(text) if response.status == 200 else text
    finally:
        conn.close()


def writer(port: int, host: str, number: int, writes: Writes, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        title = f"w{number}-{i}"
        i += 1
        began = time.monotonic()
        try:
            status, body = post(port, host, title)
        except OSError as exc:
            with writes.lock:
                writes.failures.append(f"{title}: {exc!r}")
            continue
        finished = time.monotonic()
        with writes.lock:
            if status == 200 and isinstance(body, dict):
                writes.acknowledged[title] = int(str(body["id"]))
                writes.at.append((finished, finished - began))
            else:
                writes.failures.append(f"{title}: {status} {body!r}"[:300])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=300_000, help="notes in the tenant")
    parser.add_argument("--writers", type=int, default=2, help="client threads")
    parser.add_argument("--before", type=float, default=5.0, help="baseline seconds")
    parser.add_argument("--after", type=float, default=2.0, help="seconds after the move")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to a Citus coordinator (see the docstring).")
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--reference-tables", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
    )

    import django

    django.setup()
    from django.db import connection

    from tenancy_app import provision_tenant
    from tenancy_app.citus import citus_version, list_nodes, move_tenant, tenant_placements

    schema = f"movebench_{os.getpid()}"
    host = f"movebench-{os.getpid()}.bench"  # no underscore in a host name
    tenant = provision_tenant(schema_name=schema, name="Move bench", domain=host)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                quoted(
                    "INSERT INTO {}.notes_note (title, created_at) "
                    "SELECT 'seed ' || g, now() FROM generate_series(1, %s) g",
                    schema,
                ),
                [args.rows],
            )
        placement = tenant_placements([schema])[schema]
        target = next(
            node for node in list_nodes() if node.takes_tenants and node != placement.node
        )
        port = free_port()
        command = [
            sys.executable, "-m", "gunicorn", "tests.wsgi:application", "--workers", "2",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        ]  # fmt: skip
        server = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            answer: object = None
            while True:
                try:
                    answer = post(port, host, "warm-up")
                    if answer[0] == 200:
                        break
                except OSError as exc:
                    answer = exc
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit(f"gunicorn did not answer: {answer!r}"[:2000])
                time.sleep(0.2)
            writes = Writes()
            stop = threading.Event()
            threads = [
                threading.Thread(target=writer, args=(port, host, n, writes, stop))
                for n in range(args.writers)
            ]
            for thread in threads:
                thread.start()
            time.sleep(1.0)  # warm-up: every gunicorn worker connected
            base_start = time.monotonic()
            time.sleep(args.before)
            move_start = time.monotonic()
            result = move_tenant(tenant, target.name)
            move_end = time.monotonic()
            time.sleep(args.after)
            stop.set()
            for thread in threads:
                thread.join(60)
        finally:
            server.terminate()
            server.wait(30)

        with connection.cursor() as cursor:
            cursor.execute(
                quoted("SELECT title, id FROM {}.notes_note WHERE title LIKE 'w%%'", schema)
            )
            stored = dict(cursor.fetchall())
        lost = [title for title, pk in writes.acknowledged.items() if stored.get(title) != pk]
        before = writes.between(base_start, move_start)
        during = writes.between(move_start, move_end)
        rate_before = len(before) / (move_start - base_start)
        rate_during = len(during) / (move_end - move_start)

        def ms(values: list[float], q: float) -> str:
            if not values:
                return "-"
            return f"{statistics.quantiles(values, n=100)[int(q) - 1] * 1e3:.0f} ms"

        print(f"Citus {citus_version()}; tenant {schema}: {args.rows:,} notes, "
              f"{placement.size / 1e6:.1f} MB on {placement.node}")  # fmt: skip
        print(f"moved {placement.node} -> {result.target} in {result.seconds:.1f} s")
        print(f"{args.writers} writers through gunicorn (2 sync workers):")
        print(f"  {'':<26} {'writes/s':>9} {'p50':>8} {'p99':>8} {'x baseline':>11}")
        print(f"  {'before the move (baseline)':<26} {rate_before:9.1f} {ms(before, 50):>8} "
              f"{ms(before, 99):>8} {1.0:10.2f}x")  # fmt: skip
        print(f"  {'during the move':<26} {rate_during:9.1f} {ms(during, 50):>8} "
              f"{ms(during, 99):>8} {rate_during / rate_before:10.2f}x")  # fmt: skip
        print(f"acknowledged writes: {len(writes.acknowledged)} ({len(during)} during the move); "
              f"failed requests: {len(writes.failures)}; lost rows: {len(lost)}")  # fmt: skip
        for failure in writes.failures[:5]:
            print(f"  failure: {failure}")
    finally:
        from django.db import connections

        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM public.tenancy_app_domain WHERE domain = %s", [host])
            cursor.execute("DELETE FROM public.tenancy_app_tenant WHERE schema_name = %s", [schema])
            cursor.execute(quoted("DROP SCHEMA IF EXISTS {} CASCADE", schema))
        connections.close_all()


if __name__ == "__main__":
    main()
