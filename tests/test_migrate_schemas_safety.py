"""migrate_schemas safety: one run at a time; no tenant migrated after the public schema failed."""

from __future__ import annotations

import threading
import time
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tenancy_app.migrator.lock import LOCK_NAME

LOCK = "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtextextended(%s, 0))"


@pytest.fixture
def other_run_holding_the_lock(db):
    """A connection of its own standing for a migrate_schemas run in another process."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute(LOCK, [LOCK_NAME])
        yield other


def test_nowait_fails_while_another_run_holds_the_lock(other_run_holding_the_lock):
    with pytest.raises(CommandError, match="in progress"):
        call_command("migrate_schemas", "--shared", "--nowait", stdout=StringIO())


def test_check_and_plan_do_not_wait(other_run_holding_the_lock):
    call_command("migrate_schemas", "--shared", "--plan", stdout=StringIO())
    call_command("migrate_schemas", "--shared", "--check", stdout=StringIO())


def test_a_second_run_waits_for_the_first(other_run_holding_the_lock):
    stderr = StringIO()
    finished = threading.Event()

    def run() -> None:
        try:
            call_command("migrate_schemas", "--shared", stdout=StringIO(), stderr=stderr)
            finished.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while "waiting" not in stderr.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "waiting for it to end" in stderr.getvalue()
    assert not finished.is_set()
    other_run_holding_the_lock.execute(
        "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtextextended(%s, 0))", [LOCK_NAME]
    )
    thread.join(30)
    assert finished.is_set()


def test_tenants_are_not_migrated_when_the_shared_schema_fails(make_tenant):
    from django.db import connection as conn

    from tenancy_app import public_context, tenant_context

    acme = make_tenant("acme")
    with tenant_context(acme):
        call_command("migrate_schemas", "--schema", "acme", "notes", "zero", stdout=StringIO())
    call_command("migrate_schemas", "--shared", "sessions", "zero", stdout=StringIO())
    with public_context(), conn.cursor() as cursor:
        cursor.execute("CREATE TABLE django_session (conflict int)")  # sessions will fail
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command("migrate_schemas", stdout=out, stderr=err)
    assert "failed to migrate first" in err.getvalue() + out.getvalue()
    with public_context(), conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass('acme.notes_note')")
        assert cursor.fetchone() == (None,)  # acme was left alone


NON_ATOMIC = {"notes": "tests.notes_nonatomic_migrations"}


def _index_exists(schema: str) -> bool:
    from django.db import connection as conn

    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_catalog.pg_indexes WHERE schemaname = %s AND indexname = %s",
            [schema, "notes_note_title_concurrently"],
        )
        return cursor.fetchone() is not None


@pytest.mark.django_db(transaction=True)
def test_a_non_atomic_migration_runs_outside_a_transaction(make_committed_tenant):
    from django.test.utils import override_settings

    make_committed_tenant("acme")
    with override_settings(MIGRATION_MODULES=NON_ATOMIC):
        out = StringIO()
        call_command("migrate_schemas", "--schema", "acme", stdout=out)  # 0002 applied
        assert _index_exists("acme")
        call_command("migrate_schemas", "--schema", "acme", "notes", "0001", stdout=out)
        assert not _index_exists("acme")
