"""Isolation through the ORM, raw SQL, transactions, threads and asyncio on the default database."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, transaction

from tenancy_app import get_current_tenant, public_context, schema_context, tenant_context
from tests.notes.models import Note


def _fill(tenant, titles: list[str]) -> None:
    with tenant_context(tenant):
        Note.objects.bulk_create(Note(title=title) for title in titles)


def test_orm_and_raw_sql_see_only_the_active_tenant(make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    _fill(acme, ["a1"])
    _fill(globex, ["g1", "g2"])
    with tenant_context(acme):
        assert list(Note.objects.values_list("title", flat=True)) == ["a1"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT title FROM notes_note")
            assert cursor.fetchall() == [("a1",)]
    with tenant_context(globex):
        assert Note.objects.count() == 2
        assert [n.title for n in Note.objects.iterator(chunk_size=1)] == ["g1", "g2"]


def test_tenant_tables_do_not_exist_in_public(make_tenant):
    make_tenant("acme")
    with public_context(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('notes_note'), to_regclass('acme.notes_note')")
        assert cursor.fetchone() == (None, "acme.notes_note")


def test_transaction_spanning_a_switch_commits_each_write_where_it_ran(make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    with transaction.atomic():
        with tenant_context(acme):
            Note.objects.create(title="in acme")
        with tenant_context(globex):
            Note.objects.create(title="in globex")
    with tenant_context(acme):
        assert list(Note.objects.values_list("title", flat=True)) == ["in acme"]
    with tenant_context(globex):
        assert list(Note.objects.values_list("title", flat=True)) == ["in globex"]


def test_rolled_back_savepoint_after_switch_keeps_later_statements_in_place(make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    with tenant_context(acme):
        Note.objects.create(title="kept")
        with pytest.raises(RuntimeError), transaction.atomic():
            with tenant_context(globex):
                Note.objects.create(title="undone")
            raise RuntimeError
        Note.objects.create(title="after")
        assert list(Note.objects.values_list("title", flat=True)) == ["kept", "after"]
    with tenant_context(globex):
        assert Note.objects.count() == 0


def test_context_helpers_nest_and_restore():
    with schema_context("alpha"):
        with public_context():
            with schema_context("beta"):
                from tenancy_app import get_current_schema

                assert get_current_schema() == "beta"
            assert get_current_schema() == "public"
        assert get_current_schema() == "alpha"
    assert get_current_tenant() is None


@pytest.mark.django_db(transaction=True)
def test_threads_on_different_tenants_at_once(make_committed_tenant):
    tenants = {name: make_committed_tenant(name) for name in ("acme", "globex", "initech")}
    for size, tenant in enumerate(tenants.values(), start=1):
        _fill(tenant, [f"{tenant.schema_name}{i}" for i in range(size)])
    expected = {"acme": 1, "globex": 2, "initech": 3}
    errors: list[str] = []
    barrier = threading.Barrier(6)

    def worker(order: list[str]) -> None:
        try:
            barrier.wait()
            for _ in range(15):
                for name in order:
                    with tenant_context(tenants[name]):
                        seen = Note.objects.count()
                        prefixes = {
                            t[: len(name)] for t in Note.objects.values_list("title", flat=True)
                        }
                    if seen != expected[name] or prefixes != {name}:
                        errors.append(f"{name}: {seen} rows, {prefixes}")
        finally:
            connection.close()

    orders = [["acme", "globex", "initech"], ["initech", "acme", "globex"]] * 3
    threads = [threading.Thread(target=worker, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_asyncio_tasks_on_different_tenants_share_one_connection_safely(make_committed_tenant):
    acme, globex = make_committed_tenant("acme"), make_committed_tenant("globex")
    _fill(acme, ["a"])
    _fill(globex, ["g", "g"])

    async def count_many(tenant, expected: int) -> list[int]:
        seen = []
        async with tenant_context(tenant):
            for _ in range(20):
                seen.append(await Note.objects.acount())
                await asyncio.sleep(0)
                assert get_current_tenant() == tenant
        return seen if set(seen) != {expected} else []

    @sync_to_async
    def in_thread() -> str | None:
        tenant = get_current_tenant()
        return tenant.schema_name if tenant else None

    async def main() -> None:
        results = await asyncio.gather(
            count_many(acme, 1), count_many(globex, 2), count_many(acme, 1), count_many(globex, 2)
        )
        assert results == [[], [], [], []]
        async with tenant_context(globex):
            assert await in_thread() == "globex"
            assert await asyncio.to_thread(lambda: get_current_tenant()) == globex
        assert await in_thread() is None
        await sync_to_async(lambda: connection.close())()

    asyncio.run(main())


def test_decorated_coroutine_keeps_its_tenant(make_tenant):
    acme = make_tenant("acme")

    @tenant_context(acme)
    async def which() -> str | None:
        await asyncio.sleep(0)
        tenant = get_current_tenant()
        return tenant.schema_name if tenant else None

    @schema_context("acme")
    def which_sync() -> str | None:
        from tenancy_app import get_current_schema

        return get_current_schema()

    assert asyncio.run(which()) == "acme"
    assert which_sync() == "acme"
    assert get_current_tenant() is None


def test_writes_right_after_a_switch_report_their_own_results(make_tenant):
    """The switch's SET travels in the same message as the statement: the cursor must
    report the statement's result (row counts, RETURNING), not the SET's."""
    acme, globex = make_tenant("acme"), make_tenant("globex")
    with tenant_context(acme):
        Note.objects.bulk_create([Note(title="a"), Note(title="b")])
    with tenant_context(globex):
        assert Note.objects.create(title="g").pk is not None  # INSERT ... RETURNING
    with tenant_context(acme):
        assert Note.objects.filter(title__in=["a", "b"]).update(title="x") == 2
    with tenant_context(globex):
        assert Note.objects.update(title="y") == 1
    with tenant_context(acme):
        assert Note.objects.filter(title="x").delete()[0] == 2
    with tenant_context(globex):
        assert list(Note.objects.values_list("title", flat=True)) == ["y"]
