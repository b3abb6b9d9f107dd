"""A project of the reliability suites: a database of its own, driven from subprocesses.

``manage.py`` commands, gunicorn and uvicorn run in separate processes with
``tests.settings_reliability`` and ``DATABASE_URL`` pointing at a fresh database on the
suite's server (created here, dropped afterwards), so that kills, restarts and load
never touch the test database of the other tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from psycopg import sql

from tests.servers import database_url, default_server_params

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
def scratch_project(label: str, **extra_env: str) -> Iterator[Project]:
    """A fresh database with the public and template schemas migrated."""
    name = f"tenancy_{label}_{os.getpid()}"
    server = default_server_params()
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(**server, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(create)
    project = Project(
        name,
        database_url(settings.DATABASES["default"], name),
        {**server, "dbname": name},
        dict(extra_env),
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
