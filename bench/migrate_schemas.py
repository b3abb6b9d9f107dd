"""Benchmark of migrate_schemas at N tenants, against named baselines.

    python bench/migrate_schemas.py --tenants 100
    python bench/migrate_schemas.py --tenants 1000

Uses its own database (``tenancy_bench_migrate``) on DATABASE_URL's server, else on the
embedded server in ``.pgdata/bench``. The tenant apps are Django's auth, contenttypes,
admin, sessions and the test suite's ``inventory`` app (6 models, 10 migrations with a
RunPython data migration and an AddIndex). Tenants are made with ``provision_tenant``;
then, each Django run in a child process of its own:

1. no-op ``migrate_schemas`` over public + template + N tenants (total seconds of the
   command, best of 3; and of the whole process, interpreter start included);
2. one new AddField migration (``inventory.0011``) over the template + N tenants with
   ``migrate_schemas --tenants``, against the baseline: the SQL ``sqlmigrate`` prints for
   it, replayed per schema over one connection with plain psycopg (``SET search_path``,
   the DDL, the ``INSERT`` into ``django_migrations``, one transaction per schema); best
   of 2 of each, the migration undone in between with ``migrate_schemas inventory 0010``;
3. peak RSS of the migrate_schemas processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from _support import connect, create_database, database_server  # noqa: E402  (bench/ is on sys.path)

DBNAME = "tenancy_bench_migrate"
NEW_MIGRATION = "0011_bench_product_note"
NEW_MIGRATION_SOURCE = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inventory", "0010_product_is_active")]

    operations = [
        migrations.AddField(
            model_name="product",
            name="note",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
    ]
"""

# --- the child process: one Django run ---------------------------------------------------------


def configure(server: dict[str, Any], migrations_package: str) -> None:
    import django
    from django.conf import settings

    apps = [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.admin",
    ]
    settings.configure(
        SECRET_KEY="bench-only",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DATABASES={
            "default": {
                "ENGINE": "tenancy_app.backends.postgresql",
                "NAME": DBNAME,
                "HOST": server["HOST"],
                "PORT": server["PORT"],
                "USER": server["USER"],
                "PASSWORD": server["PASSWORD"],
            }
        },
        TENANCY={
            "SHARED_APPS": ["tenancy_app", *apps],
            "TENANT_APPS": [*apps, "tests.inventory"],
        },
        INSTALLED_APPS=["tenancy_app", *apps, "tests.inventory"],
        DATABASE_ROUTERS=["tenancy_app.routers.TenantRouter"],
        MIGRATION_MODULES={"inventory": migrations_package},
    )
    django.setup()


def child(action: str, server: dict[str, Any], args: list[str]) -> dict[str, Any]:
    configure(server, "bench_inventory_migrations")
    import io

    from django.core.management import call_command

    started = time.perf_counter()
    if action == "setup":
        from tenancy_app import provision_tenant

        call_command("migrate_schemas", "--shared", verbosity=0, skip_checks=True)
        count = int(args[0])
        made = time.perf_counter()
        for index in range(count):
            provision_tenant(schema_name=f"t{index:05d}", name=f"Tenant {index}")
        return {
            "seconds": time.perf_counter() - started,
            "per_tenant": (time.perf_counter() - made) / count,
        }
    if action == "migrate":
        out = io.StringIO()
        call_command("migrate_schemas", *args, stdout=out, stderr=out, skip_checks=True)
        return {
            "seconds": time.perf_counter() - started,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "tail": out.getvalue().splitlines()[-6:],
        }
    if action == "sql":
        from tenancy_app.context import schema_context

        out = io.StringIO()
        with schema_context(args[0]):
            call_command("sqlmigrate", "inventory", NEW_MIGRATION, stdout=out, skip_checks=True)
        statements = [
            line
            for line in out.getvalue().splitlines()
            if line.strip() and not line.startswith("--") and line not in ("BEGIN;", "COMMIT;")
        ]
        return {"statements": statements}
    raise SystemExit(f"unknown action {action}")


# --- the parent: database, children, baseline, table -------------------------------------------


def server_settings() -> dict[str, Any]:
    return database_server(REPO / ".pgdata" / "bench")


def run_child(workdir: Path, server: dict[str, Any], action: str, *args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(workdir), str(REPO)]),
        "BENCH_SERVER": json.dumps(server),
        "PYTHONWARNINGS": "ignore",
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", action, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"child {action} {args} failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result


def replay(server: dict[str, Any], schemas: list[str], statements: list[str]) -> float:
    """The baseline: the migration's SQL and its django_migrations row, per schema."""
    from psycopg import sql

    with connect(server, DBNAME) as conn:
        started = time.perf_counter()
        for schema in schemas:
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema))
                )
                for statement in statements:
                    conn.execute(statement.encode())
                conn.execute(
                    "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, now())",
                    ["inventory", NEW_MIGRATION],
                )
        return time.perf_counter() - started


def main() -> None:
    if sys.argv[1:2] == ["--child"]:  # a Django run: --child ACTION ARGS...
        server = json.loads(os.environ["BENCH_SERVER"])
        print(json.dumps(child(sys.argv[2], server, sys.argv[3:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=None, help="migrate_schemas --jobs")
    options = parser.parse_args()

    n = options.tenants
    jobs = ["--jobs", str(options.jobs)] if options.jobs else []
    server = server_settings()
    workdir = Path(tempfile.mkdtemp(prefix="tenancy-bench-"))
    package = workdir / "bench_inventory_migrations"
    shutil.copytree(
        REPO / "tests" / "inventory" / "migrations",
        package,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    try:
        create_database(server, DBNAME, fresh=True)
        print(f"Setting up {n} tenants in database {DBNAME} ...", flush=True)
        setup = run_child(workdir, server, "setup", str(n))
        tenants = [f"t{index:05d}" for index in range(n)]
        schemas = ["tenancy_template", *tenants]

        noop = [run_child(workdir, server, "migrate", *jobs) for _ in range(3)]
        noop.sort(key=lambda r: r["seconds"])

        (package / f"{NEW_MIGRATION}.py").write_text(NEW_MIGRATION_SOURCE)
        run_child(workdir, server, "migrate", "--shared")  # records it in public
        statements = run_child(workdir, server, "sql", tenants[0])["statements"]
        engine, baseline, backwards = [], [], []
        for _ in range(2):
            baseline.append(replay(server, schemas, statements))
            backwards.append(
                run_child(workdir, server, "migrate", "--tenants", "inventory", "0010", *jobs)
            )
            engine.append(run_child(workdir, server, "migrate", "--tenants", *jobs))
            run_child(workdir, server, "migrate", "--tenants", "inventory", "0010", *jobs)
        best_engine = min(engine, key=lambda r: r["seconds"])
        best_baseline = min(baseline)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    jobs_used = options.jobs or min(4, os.cpu_count() or 1)
    print()
    print(
        f"migrate_schemas, {n} tenants (+ public and template), --jobs {jobs_used}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"  setup: provision_tenant {setup['per_tenant'] * 1000:.1f} ms per tenant")
    print(f"  AddField SQL replayed by the baseline: {statements}")
    print()
    rows = [
        ("no-op migrate_schemas (command)", noop[0]["seconds"], None, "target <= 2 s at 1,000"),
        ("no-op migrate_schemas (whole process)", noop[0]["process_seconds"], None, ""),
        ("AddField: replay of sqlmigrate's SQL (baseline)", best_baseline, None, ""),
        ("AddField: migrate_schemas --tenants", best_engine["seconds"],
         best_engine["seconds"] / best_baseline, "target <= 1.5x the baseline"),
        ("AddField backwards: migrate_schemas inventory 0010",
         min(r["seconds"] for r in backwards), None, ""),
    ]  # fmt: skip
    print(f"  {'measure':<52} {'seconds':>8} {'ratio':>7}")
    for name, seconds, ratio, note in rows:
        ratio_text = f"{ratio:.2f}x" if ratio is not None else ""
        print(f"  {name:<52} {seconds:>8.3f} {ratio_text:>7}  {note}")
    print()
    print(f"  peak RSS, no-op run:    {max(r['maxrss_mb'] for r in noop):.0f} MB")
    print(f"  peak RSS, AddField run: {max(r['maxrss_mb'] for r in engine):.0f} MB")
    print(f"  per schema: no-op {noop[0]['seconds'] / (n + 2) * 1000:.2f} ms, "
          f"AddField {best_engine['seconds'] / (n + 1) * 1000:.2f} ms, "
          f"baseline {best_baseline / (n + 1) * 1000:.2f} ms")  # fmt: skip
    print("  last lines of the AddField run:")
    for line in best_engine["tail"]:
        print(f"    {line}")


if __name__ == "__main__":
    main()
