"""Celery tasks follow the tenant: in process (headers, refusals, fan-out), and through a
real Redis broker and a real ``celery worker`` process with the prefork and the threads
pool (marked heavy)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("celery")

from celery import chain, chord, group
from celery.signals import before_task_publish
from django.contrib.auth.models import Group
from django.db import connection
from django.test import override_settings

from tenancy_app import delete_tenant, public_context, schema_context, tenant_context
from tenancy_app.contrib.celery import (
    FAN_OUT_TASK,
    HEADER_SCHEMA,
    HEADER_TENANT,
    for_each_tenant,
    tenant_headers,
)
from tenancy_app.exceptions import TaskRefused, TenantUnavailable
from tenancy_app.models import Tenant, TenantStatus
from tests.celery_app import app
from tests.celery_tasks import record, record_after_a_retry, report, summarize
from tests.servers import database_url

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    """The headers of every message published during the test (memory broker)."""
    seen: list[dict[str, Any]] = []

    def capture(headers=None, **kwargs):
        seen.append(dict(headers))

    before_task_publish.connect(capture, weak=False)
    yield seen
    before_task_publish.disconnect(capture)


# In process -----------------------------------------------------------------------------


def test_the_publishers_tenant_goes_into_the_headers(make_tenant, published):
    acme = make_tenant("acme")
    with tenant_context(acme):
        report.delay()
        report.apply_async(headers=tenant_headers("globex"))  # explicit wins
    with schema_context("acme"):
        report.delay()
    report.delay()
    assert [(h[HEADER_SCHEMA], h.get(HEADER_TENANT)) for h in published] == [
        ("acme", str(acme.pk)),
        ("globex", None),
        ("acme", None),
        ("public", None),
    ]


def run_with(headers: dict[str, str]) -> Any:
    """The task run in process as a worker would, from a message with ``headers``."""
    return report.apply(headers=headers)


def test_a_task_runs_in_the_tenant_its_headers_name(make_tenant):
    acme = make_tenant("acme")
    result = run_with({HEADER_SCHEMA: "acme", HEADER_TENANT: str(acme.pk)})
    assert result.get() == {"schema": "acme", "tenant": acme.pk}
    assert run_with({HEADER_SCHEMA: "acme"}).get() == {"schema": "acme", "tenant": acme.pk}
    with tenant_context(acme):  # published in public: runs in public
        assert run_with({HEADER_SCHEMA: "public"}).get() == {"schema": "public", "tenant": None}
    assert report.apply().get()["schema"] == "public"  # no header: the caller's context


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({HEADER_SCHEMA: "nobody"}, "'nobody' cannot be used now: no tenant has this schema"),
        ({HEADER_SCHEMA: "acme", HEADER_TENANT: "0"}, "belongs to another tenant"),
        ({HEADER_SCHEMA: "Bad-Name"}, "not a valid schema name"),
        ({HEADER_SCHEMA: "suspended"}, "is suspended, not active"),
        ({HEADER_SCHEMA: "typed"}, "type 'retired' is not configured"),
    ],
)
def test_unavailable_tenants_are_refused_never_run_in_public(make_tenant, headers, reason):
    make_tenant("acme")
    suspended = make_tenant("suspended")
    suspended.status = TenantStatus.SUSPENDED
    suspended.save()
    Tenant.objects.filter(pk=make_tenant("typed").pk).update(type="retired")
    result = run_with(headers)
    assert result.state == "FAILURE"
    assert isinstance(result.result, TaskRefused)
    assert isinstance(result.result, TenantUnavailable)
    assert reason in str(result.result)


def test_skip_instead_of_fail(make_tenant, caplog):
    with override_settings(TENANCY={**_tenancy(), "TASK_UNAVAILABLE_TENANT": "skip"}):
        result = run_with({HEADER_SCHEMA: "nobody"})
    assert result.state == "IGNORED"
    assert "skipped: The schema 'nobody' cannot be used now: no tenant has" in caplog.text


def test_a_task_that_overrides_before_start_without_super_still_never_sees_public(make_tenant):
    make_tenant("acme").__class__.objects.filter(schema_name="acme").update(status="suspended")

    @app.task(shared=False)
    def careless() -> Any:
        from django.db import connection as conn

        with conn.cursor() as cursor:
            cursor.execute("SHOW search_path")
            return cursor.fetchone()[0]

    careless.__class__.before_start = lambda self, task_id, args, kwargs: None
    assert careless.apply(headers={HEADER_SCHEMA: "acme"}).get() == "acme"  # not public


def _tenancy() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.TENANCY)


def test_for_each_tenant_publishes_once_per_active_tenant(make_tenant, published, monkeypatch):
    monkeypatch.setattr("tenancy_app.contrib.celery.FAN_OUT_BATCH", 2)
    tenants = [make_tenant(name) for name in ("t1", "t2", "t3", "t4", "t5")]
    tenants[2].status = TenantStatus.SUSPENDED
    tenants[2].save()
    results = for_each_tenant(report)
    by_name = for_each_tenant("tests.celery_tasks.record", "nightly")
    assert len(results) == len(by_name) == 4
    expected = [("t1", "t2", "t4", "t5")[i] for i in range(4)]
    assert [h[HEADER_SCHEMA] for h in published] == expected * 2
    assert published[4]["task"] == "tests.celery_tasks.record"


# A real worker --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker(redis_url) -> Iterator[dict[str, str]]:
    urls = {
        "CELERY_BROKER_URL": f"{redis_url}/10",
        "CELERY_RESULT_BACKEND": f"{redis_url}/11",
        "TENANCY_TEST_LOOKUP_REDIS": f"{redis_url}/12",
    }
    saved = (app.conf.broker_url, app.conf.result_backend)
    use_broker(urls["CELERY_BROKER_URL"], urls["CELERY_RESULT_BACKEND"])
    yield urls
    use_broker(*saved)


def use_broker(broker_url: str, result_backend: str) -> None:
    """Point the test process's app elsewhere, dropping what it holds of the last broker
    and backend (what Celery itself does after a fork)."""
    app.conf.update(broker_url=broker_url, result_backend=result_backend)
    app._after_fork()
    app._local.__dict__.pop("backend", None)


@pytest.fixture(scope="module", params=["prefork", "threads"])
def worker(request, broker, django_db_setup, tmp_path_factory) -> Iterator[str]:
    pool = request.param
    log = tmp_path_factory.mktemp("celery") / f"{pool}.log"
    arguments = ["worker", "--pool", pool, "--concurrency", "2" if pool == "prefork" else "4",
                 "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-n", f"{pool}@%h"]  # fmt: skip
    with celery(arguments, celery_env(broker, "tests.settings_worker"), log, ready=b"ready."):
        yield pool
    text = log.read_text()
    # the only errors a worker logged are the refusals the tests asked for
    assert text.count("Traceback") == text.count("tenancy_app.exceptions.TaskRefused: "), text


def celery_env(broker: dict[str, str], settings_module: str) -> dict[str, str]:
    """The environment of a ``celery`` process of the test project."""
    return {
        **os.environ,
        **broker,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url(connection.settings_dict),
    }


@contextmanager
def celery(arguments: list[str], env: dict[str, str], log: Path, *, ready: bytes) -> Iterator[None]:
    """Run ``celery -A tests.celery_app <arguments>`` (output to ``log``) until it logs
    ``ready``; stop it, and whatever it started, however the block ends."""
    import signal
    import subprocess

    command = [sys.executable, "-m", "celery", "-A", "tests.celery_app", *arguments]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while ready not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield
    finally:
        process.terminate()  # a warm shutdown: the worker finishes what it runs
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # its own session: nothing it forked (a pool's children) outlives it
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def shared_lookup(broker) -> Iterator[None]:
    """This process bumps the lookup generation the workers follow (LOOKUP_CACHE_ALIAS)."""
    from django.conf import settings

    caches = {
        **settings.CACHES,
        "lookup": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": broker["TENANCY_TEST_LOOKUP_REDIS"],
            "KEY_FUNCTION": "tenancy_app.cache.make_key",
        },
    }
    with override_settings(CACHES=caches, TENANCY={**_tenancy(), "LOOKUP_CACHE_ALIAS": "lookup"}):
        yield


def groups_in(schema: str) -> set[str]:
    with schema_context(schema) if schema != "public" else public_context():
        return set(Group.objects.values_list("name", flat=True))


TIMEOUT = 120


@pytest.mark.heavy
def test_two_tenants_interleaved_each_row_in_its_own_schema(worker, make_committed_tenant):
    acme, globex = make_committed_tenant("acme"), make_committed_tenant("globex")
    results = []
    for i in range(200):
        for tenant in (acme, globex):
            with tenant_context(tenant):
                results.append((tenant, record.delay(f"{tenant.schema_name}-{i}")))
    for tenant, result in results:
        assert result.get(timeout=TIMEOUT) == {"schema": tenant.schema_name, "tenant": tenant.pk}
    assert groups_in("acme") == {f"acme-{i}" for i in range(200)}
    assert groups_in("globex") == {f"globex-{i}" for i in range(200)}
    assert groups_in("public") == set()


@pytest.mark.heavy
def test_retries_countdown_chains_groups_and_chords_keep_the_tenant(worker, make_committed_tenant):
    acme, globex = make_committed_tenant("acme"), make_committed_tenant("globex")
    with tenant_context(acme):
        retried = record_after_a_retry.delay("retried")
        later = record.apply_async(("later",), countdown=1)
        chained = chain(record.si("chain-1"), record.si("chain-2"), report.si()).delay()
        grouped = group(record.si(f"group-{i}") for i in range(3)).delay()
        chorded = chord([record.si(f"chord-{i}") for i in range(3)], summarize.s()).delay()
    with tenant_context(globex):
        eta = record.apply_async(("eta",), eta=datetime.now(UTC) + timedelta(seconds=1))
    acme_is = {"schema": "acme", "tenant": acme.pk}
    assert retried.get(timeout=TIMEOUT) == {**acme_is, "retries": 1}
    assert later.get(timeout=TIMEOUT) == acme_is
    assert chained.get(timeout=TIMEOUT) == acme_is
    assert grouped.get(timeout=TIMEOUT) == [acme_is] * 3
    summary = chorded.get(timeout=TIMEOUT)
    assert summary["schema"] == "acme" and summary["parts"] == [acme_is] * 3
    assert eta.get(timeout=TIMEOUT) == {"schema": "globex", "tenant": globex.pk}
    assert groups_in("acme") == {"retried", "later", "chain-1", "chain-2"} | {
        f"{kind}-{i}" for kind in ("group", "chord") for i in range(3)
    }
    assert groups_in("globex") == {"eta"}
    assert groups_in("public") == set()


@pytest.mark.heavy
def test_suspended_and_deleted_tenants_tasks_are_refused(
    worker, make_committed_tenant, shared_lookup
):
    acme, globex = make_committed_tenant("acme"), make_committed_tenant("globex")
    for tenant in (acme, globex):  # the worker has them cached now
        with tenant_context(tenant):
            assert report.delay().get(timeout=TIMEOUT)["schema"] == tenant.schema_name
    acme.status = TenantStatus.SUSPENDED
    acme.save()
    delete_tenant(Tenant.objects.get(pk=globex.pk))
    for tenant, reason in ((acme, "is suspended"), (globex, "no tenant has this schema")):
        with tenant_context(tenant):
            result = record.delay("must not exist")
        with pytest.raises(TaskRefused, match=reason):
            result.get(timeout=TIMEOUT)
    assert groups_in("public") == set()
    assert groups_in("acme") == set()
    # a new tenant under the deleted one's schema name does not inherit its tasks
    make_committed_tenant("globex")
    with tenant_context(globex):
        result = record.delay("must not exist")
    with pytest.raises(TaskRefused, match="belongs to another tenant"):
        result.get(timeout=TIMEOUT)
    assert groups_in("globex") == set()


@pytest.mark.heavy
def test_a_beat_entry_fans_out_to_every_active_tenant(worker, make_committed_tenant):
    tenants = [make_committed_tenant(name) for name in ("acme", "globex", "initech")]
    Tenant.objects.filter(pk=tenants[2].pk).update(status=TenantStatus.SUSPENDED)
    entry = {"task": FAN_OUT_TASK, "args": ["tests.celery_tasks.record", "nightly"]}
    app.send_task(entry["task"], args=entry["args"])  # what beat does with the entry
    one = {"task": "tests.celery_tasks.record", "args": ["acme only"],
           "options": {"headers": tenant_headers("acme")}}  # fmt: skip
    app.send_task(one["task"], args=one["args"], **one["options"]).get(timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while groups_in("globex") != {"nightly"} or "nightly" not in groups_in("acme"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert groups_in("acme") == {"nightly", "acme only"}
    assert groups_in("initech") == set()
    assert groups_in("public") == set()


def ticks(schema: str, name: str) -> set[str]:
    """The rows ``tests.celery_tasks.tick(name)`` wrote in ``schema``, one per run."""
    return {group for group in groups_in(schema) if group.startswith(f"{name} ")}


def wait_until_idle(deadline: float) -> None:
    """Until the queue is empty and the worker holds no task, twice in a row."""
    inspect = app.control.inspect(timeout=5, limit=1)  # one worker: its answer
    calm = 0
    while calm < 2:
        assert time.monotonic() < deadline, "the worker never became idle"
        with app.connection_for_read() as conn:
            queued = conn.default_channel.queue_declare("celery").message_count
        held = [inspect.active(), inspect.reserved(), inspect.scheduled()]
        idle = not queued and all(replies and not any(replies.values()) for replies in held)
        calm = calm + 1 if idle else 0
        time.sleep(0.2)


@pytest.mark.heavy
def test_a_real_beat_runs_the_documented_entries_per_tenant(
    worker, broker, make_committed_tenant, tmp_path
):
    """A real ``celery beat`` with tests/settings_beat.py's schedule (docs/celery.rst's
    example, every second): the fan-out entry runs the task in every active tenant's
    schema, the one-tenant entry in acme's only; never in a suspended tenant, never in
    public."""
    for name in ("acme", "globex"):
        make_committed_tenant(name)
    initech = make_committed_tenant("initech")
    Tenant.objects.filter(pk=initech.pk).update(status=TenantStatus.SUSPENDED)
    active = sorted(
        Tenant.objects.filter(status=TenantStatus.ACTIVE).values_list("schema_name", flat=True)
    )
    assert active == ["acme", "globex"]
    log = tmp_path / "beat.log"
    arguments = ["beat", "--schedule", str(tmp_path / "celerybeat-schedule"), "--loglevel", "INFO"]
    deadline = time.monotonic() + TIMEOUT
    with celery(arguments, celery_env(broker, "tests.settings_beat"), log, ready=b"beat: Starting"):
        while not (
            all(ticks(schema, "every tenant") for schema in active) and ticks("acme", "acme only")
        ):
            assert time.monotonic() < deadline, log.read_text()
            assert groups_in("public") == groups_in("initech") == set()  # fail fast
            time.sleep(0.2)
    wait_until_idle(deadline)  # what beat sent before it stopped has run
    text = log.read_text()
    assert "Sending due task tick-every-tenant (tenancy_app.contrib.celery.tasks.fan_out)" in text
    assert "Sending due task acme-tick (tests.celery_tasks.tick)" in text
    # each fan-out reached every active tenant once
    assert len(ticks("acme", "every tenant")) == len(ticks("globex", "every tenant")) >= 1
    assert ticks("globex", "acme only") == set()
    assert groups_in("initech") == set()
    assert groups_in("public") == set()
