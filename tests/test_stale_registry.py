"""Stale registry knowledge fails closed (leases, fences): never another schema, never public.

auth is in SHARED_APPS and TENANT_APPS, so auth_group exists in the public schema and in
every tenant's: a statement meant for a tenant whose schema is gone would silently read
and write the public one. These tests change the registry from another process (a real
``manage.py`` subprocess, or a second connection standing for one) and check that this
process refuses instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from psycopg import sql

from tenancy_app import public_context, schema_context, tenant_context
from tenancy_app.conf import tenancy_settings
from tenancy_app.exceptions import TenantUnavailable
from tenancy_app.leases import fence, lease_for
from tenancy_app.lookup import tenant_for_domain
from tenancy_app.models import get_tenant_model
from tenancy_app.provisioning import delete_tenants
from tenancy_app.testing import count_round_trips
from tests.servers import database_url

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def acme(make_committed_tenant):
    """A committed tenant acme with a group of its own, and a group in the public schema."""
    tenant = make_committed_tenant("acme")
    with tenant_context(tenant):
        Group.objects.create(name="acme-group")
    with public_context():
        Group.objects.create(name="public-operators")
    yield tenant
    with public_context():
        Group.objects.filter(name="public-operators").delete()


def _other_process() -> psycopg.Connection:
    """A connection of its own, standing for another process that changes the database."""
    params = connection.get_connection_params()
    return psycopg.connect(**params, autocommit=True)


def _drop_elsewhere(schema: str) -> None:
    with _other_process() as other:
        other.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _public_groups() -> list[str]:
    with public_context():
        return sorted(Group.objects.values_list("name", flat=True))


def test_a_statement_in_a_schema_dropped_elsewhere_is_refused_not_run_in_public(acme):
    with tenant_context(acme):
        assert list(Group.objects.values_list("name", flat=True)) == ["acme-group"]
    _drop_elsewhere("acme")
    time.sleep(tenancy_settings.REGISTRY_MAX_AGE)  # this process's lease has run out
    with tenant_context(acme), CaptureQueriesContext(connection) as queries:
        with pytest.raises(TenantUnavailable, match=r"'acme'.*does not exist"):
            Group.objects.create(name="written-through-a-dead-tenant")
        with pytest.raises(TenantUnavailable):
            list(Group.objects.all())
    assert len(queries) == 0  # nothing was sent for the ORM's statements
    assert _public_groups() == ["public-operators"]


def test_schema_context_of_a_missing_schema_refuses_before_any_statement(acme):
    with (
        schema_context("nosuch"),
        CaptureQueriesContext(connection) as queries,
        pytest.raises(TenantUnavailable, match="'nosuch'"),
    ):
        Group.objects.create(name="nowhere")
    assert len(queries) == 0
    assert _public_groups() == ["public-operators"]


def _read_until_refused(tenant, seconds: float) -> tuple[list[list[str]], TenantUnavailable | None]:
    """Read acme's groups in a loop, as a long job would, until refused (or time is up)."""
    seen: list[list[str]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with tenant_context(tenant):
                seen.append(sorted(Group.objects.values_list("name", flat=True)))
        except TenantUnavailable as exc:
            return seen, exc
        time.sleep(0.01)
    return seen, None


def test_a_tenant_deleted_by_another_process_is_refused_never_served_from_public(acme):
    with tenant_context(acme):
        Group.objects.count()  # this process holds a lease on acme
    command = threading.Thread(
        target=lambda: results.append(_manage("delete_tenant", "--schema", "acme", "--noinput"))
    )
    results: list[subprocess.CompletedProcess[str]] = []
    command.start()
    seen, refusal = _read_until_refused(acme, seconds=30)
    command.join()
    assert results[0].returncode == 0, results[0].stderr
    assert "Waiting" in results[0].stdout
    assert refusal is not None
    assert seen and all(groups == ["acme-group"] for groups in seen)
    assert _public_groups() == ["public-operators"]


def test_a_renamed_tenant_never_reaches_the_newcomer_that_takes_its_old_name(acme):
    with tenant_context(acme):
        Group.objects.count()
    results: list[subprocess.CompletedProcess[str]] = []

    def rename_then_reuse() -> None:
        results.append(
            _manage("rename_tenant", "--schema", "acme", "--to", "acme_old", "--noinput")
        )
        results.append(
            _manage(
                "create_tenant", "--schema", "acme", "--name", "Newcomer", "--domain", "new.test"
            )
        )
        with _other_process() as other:
            other.execute("INSERT INTO acme.auth_group (name) VALUES ('newcomer-group')")

    command = threading.Thread(target=rename_then_reuse)
    command.start()
    seen, refusal = _read_until_refused(acme, seconds=60)
    command.join()
    try:
        assert [result.returncode for result in results] == [0, 0], [r.stderr for r in results]
        assert refusal is not None  # refused from the moment the rename fenced the name
        assert seen and all(groups == ["acme-group"] for groups in seen)
        # Reading through the old instance once the newcomer has the name: still refused.
        with pytest.raises(TenantUnavailable) as refused, tenant_context(acme):
            list(Group.objects.all())
        assert refused.value.gone
        renamed = get_tenant_model().objects.get(pk=acme.pk)
        with tenant_context(renamed):
            assert list(Group.objects.values_list("name", flat=True)) == ["acme-group"]
    finally:
        _manage("delete_tenant", "--schema", "acme", "--noinput")
        get_tenant_model().objects.filter(schema_name="acme_old").update(schema_name="acme")
        with _other_process() as other:
            other.execute("ALTER SCHEMA acme_old RENAME TO acme")


def test_a_fenced_tenant_is_answered_503_and_served_again_after(acme, client: Client):
    assert client.get("/whoami/", HTTP_HOST="acme.test").json()["groups"] == ["acme-group"]
    raised, release = threading.Event(), threading.Event()

    def hold() -> None:
        with fence(["acme"], using="default", on_wait=lambda seconds: raised.set()):
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert raised.wait(30)
        response = client.get("/whoami/", HTTP_HOST="acme.test")
        assert response.status_code == 503
    finally:
        release.set()
        holder.join()
    time.sleep(tenancy_settings.REGISTRY_MAX_AGE)  # the remembered refusal runs out
    assert client.get("/whoami/", HTTP_HOST="acme.test").json()["groups"] == ["acme-group"]


def test_a_schema_dropped_during_a_request_answers_503_not_public(acme, client: Client):
    client.get("/whoami/", HTTP_HOST="acme.test")
    dropper = threading.Timer(0.1, _drop_elsewhere, ["acme"])
    dropper.start()
    # The view sleeps past its lease, then queries: the renewal finds the schema gone.
    response = client.post(
        f"/whoami/?sleep={tenancy_settings.REGISTRY_MAX_AGE + 0.2}",
        {"name": "posted-to-a-dead-tenant"},
        HTTP_HOST="acme.test",
    )
    dropper.join()
    assert response.status_code == 503
    assert _public_groups() == ["public-operators"]
    # Later requests: the lookup finds the registry row without its schema.
    assert client.get("/whoami/", HTTP_HOST="acme.test").status_code == 503


def test_the_lookup_grants_the_lease_in_its_own_query(acme):
    tenant_for_domain("acme.test")  # one registry query, which also verified acme
    with tenant_context(acme), count_round_trips(connection) as trips:
        Group.objects.count()
    assert trips.count == 1  # the statement (with its SET): no verification of its own
    lease_for("acme", acme).revoke()
    with tenant_context(acme), count_round_trips(connection) as trips:
        Group.objects.count()
        Group.objects.count()
    assert trips.count == 3  # one verification, then the two statements


def test_deleting_several_tenants_waits_once(make_committed_tenant):
    tenants = [make_committed_tenant(name) for name in ("one", "two", "three")]
    waits: list[float] = []
    delete_tenants(tenants, on_wait=waits.append)
    assert len(waits) == 1
    assert 0 < waits[0] <= tenancy_settings.REGISTRY_MAX_AGE
    with public_context():
        assert not get_tenant_model().objects.filter(schema_name__in=["one", "two", "three"])


@pytest.fixture(autouse=True)
def _fresh_leases() -> Iterator[None]:
    from tenancy_app.leases import revoke_all

    revoke_all()
    yield
    revoke_all()


def test_a_refusal_pickles_whole():
    import pickle

    refusal = TenantUnavailable("acme", "the schema does not exist", gone=True)
    copy = pickle.loads(pickle.dumps(refusal))
    assert (copy.schema_name, copy.reason, copy.gone) == ("acme", "the schema does not exist", True)
    assert str(copy) == str(refusal)
