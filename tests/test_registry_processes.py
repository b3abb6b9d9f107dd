"""Registry changes made by one process reach real gunicorn workers within the bound.

Two gunicorn workers (gthread) serve acme.test under load while a ``manage.py``
subprocess deletes, renames or suspends the tenant. Every response is checked: a 200
comes from acme's own schema (never the public schema, never a newcomer's), every write
that was answered 200 is in acme's schema, and once the command has finished the workers
stop serving the old state (at once for delete and rename, which are fenced; within
REGISTRY_MAX_AGE for suspend).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.models import Group
from django.db import connection

from tenancy_app import public_context, tenant_context
from tenancy_app.models import get_tenant_model
from tests.servers import database_url, free_port, serving

pytestmark = pytest.mark.heavy

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_AGE = 2.0  # REGISTRY_MAX_AGE of every process of these tests (servers and commands)
SLACK = 1.5  # scheduling on a busy 2-core machine


@dataclass
class Answer:
    sent: float
    status: int
    body: dict | None
    posted: str | None


@dataclass
class Load:
    base: str
    host: str
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    counter: int = 0

    def _one(self, post: bool) -> None:
        name = None
        data = None
        if post:
            self.counter += 1
            name = f"posted-{threading.get_ident()}-{self.counter}"
            data = urllib.parse.urlencode({"name": name}).encode()
        request = urllib.request.Request(
            self.base + "/whoami/", data=data, headers={"Host": self.host}
        )
        sent = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self.answers.append(
                    Answer(sent, response.status, json.loads(response.read()), name)
                )
        except urllib.error.HTTPError as exc:
            self.answers.append(Answer(sent, exc.code, None, name))

    def run(self, threads: int = 6) -> list[threading.Thread]:
        def loop(index: int) -> None:
            post = False
            while not self.stop.is_set():
                self._one(post and index % 2 == 0)
                post = not post

        workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        return workers


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "TENANCY_TEST_REGISTRY_MAX_AGE": str(MAX_AGE),
    }


def _manage(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result, time.monotonic()


@pytest.fixture
def gunicorn(make_committed_tenant, tmp_path) -> Iterator[str]:
    acme = make_committed_tenant("acme")
    with tenant_context(acme):
        Group.objects.create(name="acme-group")
    with public_context():
        Group.objects.create(name="public-operators")
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "tests.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-class", "gthread",
        "--threads", "4", "--log-level", "warning",
    ]  # fmt: skip
    with serving(command, port, tmp_path / "gunicorn.log", env=_env(), cwd=REPO_ROOT):
        yield f"http://127.0.0.1:{port}"
    with public_context():
        Group.objects.filter(name="public-operators").delete()


def _groups_of(schema: str) -> set[str]:
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        rows = other.execute(
            psycopg.sql.SQL("SELECT name FROM {}.auth_group").format(psycopg.sql.Identifier(schema))
        ).fetchall()
    return {row[0] for row in rows}


def _under_load(base: str, action, *, after: float) -> tuple[Load, float]:
    """Serve acme.test under load, run ``action`` (returns when it finished), keep the load
    on ``after`` seconds more."""
    load = Load(base, "acme.test")
    workers = load.run()
    time.sleep(1.0)
    finished = action()
    time.sleep(after)
    load.stop.set()
    for worker in workers:
        worker.join()
    return load, finished


def _check_served_answers(load: Load, allowed: set[str]) -> None:
    served = [a for a in load.answers if a.status == 200]
    assert served, "nothing was served before the change"
    assert all(a.body["schema"] == "acme" for a in served)
    for answer in served:
        assert set(answer.body["groups"]) <= allowed | {a.posted for a in load.answers}
        assert "public-operators" not in answer.body["groups"]
    assert {a.status for a in load.answers} <= {200, 404, 503}, "errors under the change"


def test_delete_in_another_process_stops_every_worker_never_public(gunicorn):
    def delete() -> float:
        result, finished = _manage("delete_tenant", "--schema=acme", "--noinput")
        assert result.returncode == 0, result.stderr
        return finished

    load, finished = _under_load(gunicorn, delete, after=MAX_AGE + SLACK)
    _check_served_answers(load, {"acme-group"})
    assert not [a for a in load.answers if a.sent > finished and a.status == 200]
    assert [a for a in load.answers if a.sent > finished][-1].status == 404
    assert _groups_of("public") == {"public-operators"}  # no write went to public


def test_rename_while_a_newcomer_takes_the_old_name_never_crosses_tenants(gunicorn):
    def rename_then_reuse() -> float:
        result, _ = _manage("rename_tenant", "--schema=acme", "--to=acme_old", "--noinput")
        assert result.returncode == 0, result.stderr
        result, finished = _manage(
            "create_tenant", "--schema=acme", "--name=Newcomer", "--domain=newcomer.test"
        )
        assert result.returncode == 0, result.stderr
        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=True) as other:
            other.execute("INSERT INTO acme.auth_group (name) VALUES ('newcomer-group')")
        return finished

    try:
        load, finished = _under_load(gunicorn, rename_then_reuse, after=MAX_AGE + 3 * SLACK)
        _check_served_answers_renamed(load)
        written = {a.posted for a in load.answers if a.posted and a.status == 200}
        assert written  # some writes were served before and after the rename
        assert written <= _groups_of("acme_old")  # none lost
        assert not written & _groups_of("acme")  # none in the newcomer's schema
        assert _groups_of("acme") == {"newcomer-group"}
        assert _groups_of("public") == {"public-operators"}
        late = [a for a in load.answers if a.sent > finished + MAX_AGE + SLACK]
        assert late and all(a.status == 200 for a in late)  # served again, renamed
    finally:
        _manage("delete_tenant", "--schema=acme", "--noinput")
        _manage("rename_tenant", "--schema=acme_old", "--to=acme", "--noinput")


def _check_served_answers_renamed(load: Load) -> None:
    served = [a for a in load.answers if a.status == 200]
    assert served
    posted = {a.posted for a in load.answers}
    for answer in served:
        assert answer.body["schema"] in {"acme", "acme_old"}
        assert set(answer.body["groups"]) <= {"acme-group"} | posted, answer.body
    assert {a.status for a in load.answers} <= {200, 404, 503}


def test_suspend_in_another_process_reaches_every_worker_within_the_bound(gunicorn):
    def suspend() -> float:
        result, finished = _manage("suspend_tenant", "--schema=acme")
        assert result.returncode == 0, result.stderr
        return finished

    load, finished = _under_load(gunicorn, suspend, after=MAX_AGE + 3 * SLACK)
    _check_served_answers(load, {"acme-group"})
    late = [a for a in load.answers if a.sent > finished + MAX_AGE + SLACK]
    assert late and all(a.status == 503 for a in late)
    with public_context():
        assert get_tenant_model().objects.get(schema_name="acme").status == "suspended"
