"""dump_tenant / restore_tenant against real PostgreSQL: the restored schema equals the original."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from psycopg import sql

from tenancy_app.backup import dump_tenant, restore_tenant
from tenancy_app.backup.frames import FrameWriter
from tenancy_app.context import public_context, tenant_context
from tenancy_app.exceptions import (
    CloneNotSupported,
    DumpAheadOfCode,
    InvalidDumpFile,
    InvalidSchemaName,
    TenantAlreadyExists,
)
from tenancy_app.models import AuditEntry, Domain, Tenant, TenantStatus
from tenancy_app.provisioning import delete_tenant
from tenancy_app.schemas import list_schemas, schema_exists
from tests.audit_support import forget_committed_entries
from tests.backup_support import all_rows, execute, fill
from tests.catalog import differences, rows_of, schema_catalog
from tests.inventory.models import Category
from tests.notes.models import Note
from tests.servers import database_url, pg15_server, require_pg15
from tests.test_commands import REPO_ROOT

pytestmark = pytest.mark.usefixtures(forget_committed_entries.__name__)


def manage(*args: str, path: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """`python -m django ARGS` on this run's database (committed data), bytes in and out."""
    env = {
        **os.environ,
        "PATH": path,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=REPO_ROOT, env=env, input=stdin, capture_output=True, timeout=120, check=False,
    )  # fmt: skip


def dump_bytes(tenant: Any, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    dump_tenant(tenant, out, **kwargs)
    return out.getvalue()


def nothing_created(schema_name: str) -> bool:
    with public_context():
        return not Tenant.objects.filter(schema_name=schema_name).exists() and not schema_exists(
            schema_name
        )


@pytest.fixture
def acme(make_tenant) -> Any:
    tenant = make_tenant("acme")
    fill(tenant)
    return tenant


def test_dump_then_restore_equals_the_original(acme):
    data = dump_bytes(acme)
    restored = restore_tenant(io.BytesIO(data), schema_name="acme_copy", domains=["copy.test"])
    assert differences(schema_catalog("acme"), schema_catalog("acme_copy")) == []
    assert differences(all_rows("acme"), all_rows("acme_copy")) == []
    catalog = schema_catalog("acme_copy")
    tables = {row[0] for row in catalog["relations"]}
    assert {"legacy", "note_titles", "notes_note", "inventory_category", "auth_user"} <= tables
    assert any(row[2] == "f" for row in catalog["constraints"])  # foreign keys came back
    # Positions past the rows: the next ids follow the original's, not the rows'.
    with tenant_context(restored):
        assert Note.objects.create(title="next").pk == 6
        assert Category.objects.filter(slug="general").exists()
    assert rows_of("acme_copy", "SELECT nextval('legacy_id_seq')") == [(4,)]
    with public_context():
        restored = Tenant.objects.get(schema_name="acme_copy")
        assert (restored.name, restored.status) == ("Acme", TenantStatus.ACTIVE)
        assert list(Domain.objects.filter(tenant=restored).values_list("domain", "is_primary")) == [
            ("copy.test", True)
        ]


def test_the_dumped_domains_come_back_unless_told_otherwise(acme):
    with public_context():
        Domain.objects.create(tenant=acme, domain="www.acme.test", is_primary=False)
    data = dump_bytes(acme)
    with pytest.raises(TenantAlreadyExists, match="--domain or --no-domain"):
        restore_tenant(io.BytesIO(data), schema_name="acme_copy")  # the original has them
    assert nothing_created("acme_copy")
    delete_tenant(acme)
    restored = restore_tenant(io.BytesIO(data), schema_name="acme_back", name="Acme again")
    with public_context():
        assert sorted(
            Domain.objects.filter(tenant=restored).values_list("domain", "is_primary")
        ) == [
            ("acme.test", True),
            ("www.acme.test", False),
        ]
        assert Tenant.objects.get(schema_name="acme_back").name == "Acme again"
    bare = restore_tenant(io.BytesIO(data), schema_name="acme_bare", domains=[])
    with public_context():
        assert not Domain.objects.filter(tenant=bare).exists()


def test_a_suspended_tenant_comes_back_suspended(acme):
    with public_context():
        Tenant.objects.filter(pk=acme.pk).update(status=TenantStatus.SUSPENDED)
        acme.refresh_from_db()
    restored = restore_tenant(io.BytesIO(dump_bytes(acme)), schema_name="copy", domains=[])
    assert restored.status == TenantStatus.SUSPENDED


def test_a_file_from_an_older_migration_state_is_restored_and_migrated(acme):
    execute("SET CONSTRAINTS ALL IMMEDIATE")  # the rows fill() wrote in this transaction
    call_command("migrate_schemas", "inventory", "0007", schema=["acme"], stdout=io.StringIO())
    data = dump_bytes(acme)
    call_command("migrate_schemas", schema=["acme"], stdout=io.StringIO())
    restore_tenant(io.BytesIO(data), schema_name="acme_old", domains=[])
    assert differences(schema_catalog("acme"), schema_catalog("acme_old")) == []
    assert ("inventory", "0010_product_is_active") in rows_of(
        "acme_old", "SELECT app, name FROM django_migrations"
    )
    with public_context():
        (entry,) = AuditEntry.objects.filter(action="restore")
    assert entry.parameters["migrations_run"] == 3
    assert entry.parameters["source_schema"] == "acme"


def test_a_file_ahead_of_the_code_is_refused_before_any_sql(acme):
    execute("INSERT INTO acme.django_migrations (app, name, applied) VALUES (%s, %s, now())",
            ["inventory", "0099_from_the_future"])  # fmt: skip
    data = dump_bytes(acme)
    with CaptureQueriesContext(connection) as queries, pytest.raises(DumpAheadOfCode) as info:
        restore_tenant(io.BytesIO(data), schema_name="acme_copy", domains=[])
    assert "inventory.0099_from_the_future" in str(info.value)
    assert queries.captured_queries == []
    assert nothing_created("acme_copy")


def _frames(raw: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Each frame's kind, and where its payload starts and ends in ``raw``."""
    at = len(b"TENANCY-DUMP\n")
    while at < len(raw):
        kind, length = raw[at : at + 1], int.from_bytes(raw[at + 1 : at + 5], "big")
        yield kind, at + 5, at + 5 + length
        at += 5 + length


def _changed_in_frame(raw: bytes, kind: bytes, old: bytes, new: bytes) -> bytes:
    """``raw`` with ``old`` changed to ``new`` (as long) in the first frame of ``kind``,
    compressed again: gzip is happy, the checksum at the end is not."""
    assert len(old) == len(new)
    start, end = next((start, end) for k, start, end in _frames(raw) if k == kind)
    assert old in raw[start:end]
    return gzip.compress(raw[:start] + raw[start:end].replace(old, new, 1) + raw[end:])


def damaged(data: bytes) -> dict[str, bytes]:
    """The dump cut short, bit-flipped, and re-packed with one changed row, one changed
    sequence name and one changed statement of the DDL."""
    raw = gzip.decompress(data)
    # A row of the notes table changed, then compressed again: gzip is happy, the
    # checksum at the end is not (found after every row was loaded).
    changed = gzip.compress(raw.replace(b"note 1\t", b"note X\t", 1))
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    return {
        "empty": b"",
        "not gzip": b"hello",
        "not a dump": gzip.compress(b"PGDMP custom format"),
        "first bytes": data[:30],
        "half": data[: len(data) // 2],
        "all but the last byte": data[:-1],
        "without the end frame": gzip.compress(raw[:-37]),
        "one byte flipped": bytes(flipped),
        "a row changed": changed,
        # These two fail in the database before the checksum is read: the file's
        # damage must still be what the restore reports.
        "a sequence renamed": _changed_in_frame(raw, b"S", b"_id_seq", b"_id_sex"),
        "the DDL changed": _changed_in_frame(raw, b"H", b"CREATE TABLE", b"CREATE TABLX"),
        "data after the end": gzip.compress(raw + b"more"),
    }


def test_a_corrupt_or_truncated_file_is_refused_with_nothing_created(acme):
    data = dump_bytes(acme)
    assert b"note 1\t" in gzip.decompress(data)
    schemas = set(list_schemas())
    for case, broken in damaged(data).items():
        with pytest.raises(InvalidDumpFile):
            restore_tenant(io.BytesIO(broken), schema_name="acme_copy", domains=[])
        assert nothing_created("acme_copy"), case
        assert set(list_schemas()) == schemas, case
    # A failed restore that got as far as the transaction is in the audit trail.
    with public_context():
        failed = AuditEntry.objects.filter(action="restore", outcome="failed")
        assert failed.filter(error__contains="checksum").exists()


def test_bad_names_and_taken_names_are_refused(acme):
    data = dump_bytes(acme)
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidSchemaName):
        restore_tenant(io.BytesIO(data), schema_name="Robert'); DROP SCHEMA public;--")
    assert queries.captured_queries == []
    with pytest.raises(TenantAlreadyExists):
        restore_tenant(io.BytesIO(data), schema_name="acme", domains=[])
    assert rows_of("acme", "SELECT count(*) FROM notes_note") == [(4,)]


def test_replace_restores_over_the_same_name_in_one_transaction(acme):
    data = dump_bytes(acme)
    with tenant_context(acme):
        Note.objects.create(title="after the dump")
    waits: list[float] = []
    restored = restore_tenant(
        io.BytesIO(data), schema_name="acme", replace=True, on_wait=waits.append
    )
    assert waits  # the name was fenced, and the restore waited for other processes
    assert restored.pk != acme.pk
    with tenant_context(restored):
        assert not Note.objects.filter(title="after the dump").exists()
        assert Note.objects.count() == 4
    with public_context():
        assert list(Domain.objects.filter(tenant=restored).values_list("domain", flat=True)) == [
            "acme.test"
        ]
        assert not Tenant.objects.filter(pk=acme.pk).exists()
    assert not [name for name in list_schemas() if name.startswith("tenancy_restore_")]


def test_replace_that_fails_keeps_the_tenant_it_would_replace(acme):
    data = dump_bytes(acme)
    with pytest.raises(InvalidDumpFile):
        restore_tenant(io.BytesIO(data[:-20]), schema_name="acme", replace=True)
    with public_context():
        assert Tenant.objects.filter(pk=acme.pk).exists()
    assert rows_of("acme", "SELECT count(*) FROM notes_note") == [(4,)]
    assert not [name for name in list_schemas() if name.startswith("tenancy_restore_")]


def test_schemas_the_ddl_builder_cannot_copy_are_refused_before_writing(acme):
    execute("CREATE FUNCTION acme.f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    out = io.BytesIO()
    with pytest.raises(CloneNotSupported, match="pg_dump -n"):
        dump_tenant(acme, out)
    assert out.getvalue() == b""


class OnlyWrite(io.RawIOBase):
    """A pipe: written once from start to end, no seek, no tell."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)


class OnlyRead(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.stream.read(min(len(buffer), 4096))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_it_streams_through_pipes(acme):
    pipe = OnlyWrite()
    dump_tenant(acme, pipe)
    data = b"".join(pipe.chunks)
    restore_tenant(OnlyRead(data), schema_name="acme_copy", domains=[])  # type: ignore[arg-type]
    assert differences(all_rows("acme"), all_rows("acme_copy")) == []


def test_frames_hold_at_most_a_chunk_of_rows(acme, monkeypatch):
    monkeypatch.setattr("tenancy_app.backup.dump.CHUNK", 64)
    sizes: list[tuple[bytes, int]] = []
    original = FrameWriter.frame

    def frame(self: FrameWriter, kind: bytes, payload: Any) -> None:
        sizes.append((kind, len(payload)))
        original(self, kind, payload)

    monkeypatch.setattr(FrameWriter, "frame", frame)
    data = dump_bytes(acme)
    rows = [size for kind, size in sizes if kind == b"D"]
    assert len(rows) > 10 and max(rows) < 64 + 200  # a chunk, plus at most one row
    restore_tenant(io.BytesIO(data), schema_name="acme_copy", domains=[])
    assert differences(all_rows("acme"), all_rows("acme_copy")) == []


def test_dump_and_restore_are_in_the_audit_trail(acme):
    data = dump_bytes(acme)
    restored = restore_tenant(io.BytesIO(data), schema_name="acme_copy", domains=[])
    with public_context():
        entries = list(AuditEntry.objects.filter(action__in=["dump", "restore"]).order_by("id"))
    assert [(e.action, e.schema_name, e.outcome) for e in entries] == [
        ("dump", "acme", "succeeded"),
        ("restore", "acme_copy", "succeeded"),
    ]
    assert entries[1].tenant_key == str(restored.pk)


# The commands ------------------------------------------------------------------------------


def test_the_commands_round_trip_a_tenant(acme, tmp_path):
    target = tmp_path / "acme.dump"
    out = io.StringIO()
    call_command("dump_tenant", "--schema", "acme", "-o", str(target), "-v", "2", stdout=out)
    assert "notes_note: 4 rows" in out.getvalue()
    assert not (tmp_path / "acme.dump.partial").exists()
    out = io.StringIO()
    call_command(
        "restore_tenant", str(target), "--schema", "acme_copy", "--domain", "copy.test",
        stdout=out,
    )  # fmt: skip
    assert "Restored tenant 'Acme' as schema acme_copy (active)" in out.getvalue()
    assert differences(all_rows("acme"), all_rows("acme_copy")) == []


def test_the_commands_refuse_before_any_sql(acme, tmp_path):
    for args in (
        ("dump_tenant", "--schema", "Acme", "-o", str(tmp_path / "x")),
        ("restore_tenant", str(tmp_path / "x"), "--schema", "pg_x"),
        ("restore_tenant", str(tmp_path / "x"), "--schema", "ok", "--domain", "Bad Host"),
    ):
        with CaptureQueriesContext(connection) as queries, pytest.raises(CommandError):
            call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
        assert queries.captured_queries == [], args
    assert not (tmp_path / "x").exists()
    with pytest.raises(CommandError, match="Could not read the dump"):
        call_command("restore_tenant", str(tmp_path / "missing"), "--schema", "ok")
    with pytest.raises(CommandError, match=r"truncated|not a tenant dump"):
        (tmp_path / "short").write_bytes(dump_bytes(acme)[:100])
        call_command("restore_tenant", str(tmp_path / "short"), "--schema", "ok", "--no-domain")
    with pytest.raises(CommandError, match="without confirmation"):
        (tmp_path / "ok").write_bytes(dump_bytes(acme))
        call_command("restore_tenant", str(tmp_path / "ok"), "--schema", "acme", "--replace")
    assert rows_of("acme", "SELECT count(*) FROM notes_note") == [(4,)]


def test_a_failed_dump_leaves_no_file(acme, tmp_path):
    execute("CREATE FUNCTION acme.f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    with pytest.raises(CommandError, match="cannot be copied"):
        call_command("dump_tenant", "--schema", "acme", "-o", str(tmp_path / "acme.dump"))
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def committed_acme(make_committed_tenant) -> Iterator[Any]:
    tenant = make_committed_tenant("acme")
    fill(tenant)
    yield tenant
    with public_context():
        for leftover in Tenant.objects.exclude(pk=tenant.pk).filter(schema_name__startswith="acme"):
            delete_tenant(leftover)
    with public_context(), connection.cursor() as cursor:
        for name in list_schemas():
            if name.startswith("acme_") or name.startswith("tenancy_restore_"):
                cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def test_restore_under_a_new_name_while_the_original_keeps_serving(committed_acme):
    data = dump_bytes(committed_acme)
    served: list[Any] = []

    def request_the_original() -> None:
        try:
            client = Client(HTTP_HOST="acme.test")
            response = client.get("/notes/")
            served.append((response.status_code, response.json()["titles"]))
            with tenant_context(committed_acme):
                Note.objects.create(title="written during the restore")
            served.append("written")
        finally:
            connections.close_all()  # this thread's own connection

    def on_table(name: str, rows: int) -> None:
        if name == "notes_note":  # mid-restore, its transaction open
            thread = threading.Thread(target=request_the_original)
            thread.start()
            thread.join(30)

    restore_tenant(io.BytesIO(data), schema_name="acme_copy", domains=[], on_table=on_table)
    assert served == [(200, [f"note {i}" for i in range(4)]), "written"]
    assert rows_of("acme_copy", "SELECT count(*) FROM notes_note") == [(4,)]
    assert rows_of("acme", "SELECT count(*) FROM notes_note") == [(5,)]


def test_the_commands_need_no_client_binary_and_stream_through_a_pipe(committed_acme):
    """dump_tenant -o - | restore_tenant - with a PATH that holds no PostgreSQL binary."""
    bin_dir = Path(sys.executable).parent
    assert not any(shutil.which(b, path=str(bin_dir)) for b in ("pg_dump", "psql", "pg_restore"))
    dumped = manage("dump_tenant", "--schema", "acme", "-o", "-", path=str(bin_dir))
    assert dumped.returncode == 0, dumped.stderr
    restored = manage(
        "restore_tenant", "-", "--schema", "acme_copy", "--no-domain",
        path=str(bin_dir), stdin=dumped.stdout,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert differences(schema_catalog("acme"), schema_catalog("acme_copy")) == []
    assert differences(all_rows("acme"), all_rows("acme_copy")) == []
    assert "Dumped tenant 'acme' to standard output" in dumped.stderr.decode()


@pytest.mark.heavy
def test_round_trip_on_debian_postgresql_15(django_db_blocker):
    """The same round trip on PostgreSQL 15 (no search_path reports, older catalogs)."""
    require_pg15()
    with django_db_blocker.unblock(), pg15_server() as params:
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute("CREATE DATABASE tenancy_backup15")
        url = database_url(
            {"HOST": params["host"], "PORT": params["port"], "USER": params["user"]},
            "tenancy_backup15",
        )
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url}
        done = subprocess.run(
            [sys.executable, "-m", "tests.backup_roundtrip"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert 150000 <= result["server_version"] < 160000
    assert result["catalog"] == [] and result["rows"] == []
    assert result["tables"] > 10
