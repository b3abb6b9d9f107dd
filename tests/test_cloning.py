"""clone_tenant, rename_tenant and the template schema, through the Python API and the commands."""

from __future__ import annotations

import io
import unittest
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import sql

import tenancy_app
from tenancy_app import provision_tenant, public_context, tenant_context
from tenancy_app.conf import tenancy_settings
from tenancy_app.exceptions import (
    CloneNotSupported,
    InvalidSchemaName,
    SchemaAlreadyExists,
    TenantAlreadyExists,
)
from tenancy_app.migrator import migrate_schema
from tenancy_app.models import Tenant, TenantStatus
from tenancy_app.provisioning import clone_tenant, rename_tenant
from tenancy_app.schemas import create_schema, drop_schema, list_schemas, schema_exists
from tenancy_app.template_schema import clear_template_cache, ensure_template
from tenancy_app.testing import TenantTestCase
from tests.catalog import differences, rows_of, schema_catalog
from tests.notes.models import Note

TEMPLATE = tenancy_settings.TEMPLATE_SCHEMA

# Objects Django migrations can make (RunSQL included) beyond what the test apps have:
# serial and ALWAYS identity columns, a free sequence, collations, generated columns,
# checks, deferrable unique and exclusion constraints, foreign keys inside the schema and
# to a shared table, partial/expression/INCLUDE indexes, a view, comments, an unlogged
# table, a renamed table (whose sequence and NOT NULL keep their old names), a dropped
# column.
RICHER_SCHEMA = """
CREATE TABLE legacy (
    id serial PRIMARY KEY,
    code varchar(20) COLLATE "C" NOT NULL DEFAULT 'x',
    price numeric(10, 2) CHECK (price >= 0),
    total numeric GENERATED ALWAYS AS (price * 2) STORED,
    gone integer,
    note_id bigint REFERENCES notes_note (id) DEFERRABLE INITIALLY DEFERRED,
    tenant_id bigint REFERENCES public.tenancy_app_tenant (id) ON DELETE CASCADE
);
ALTER TABLE legacy DROP COLUMN gone;
ALTER TABLE legacy ADD CONSTRAINT legacy_code_uniq UNIQUE (code) DEFERRABLE;
ALTER TABLE legacy ADD CONSTRAINT legacy_price_excl EXCLUDE USING btree (price WITH =);
CREATE UNIQUE INDEX legacy_lower_code ON legacy (lower(code)) WHERE price > 0;
CREATE INDEX legacy_price_incl ON legacy (price) INCLUDE (code);
CREATE SEQUENCE invoice_numbers AS integer START 1000 INCREMENT 5 CACHE 3;
SELECT nextval('invoice_numbers');
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 50 INCREMENT BY 10) PRIMARY KEY,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb
);
ALTER TABLE events RENAME TO audit_events;
CREATE UNLOGGED TABLE scratch (k text);
CREATE VIEW long_notes AS SELECT id, title FROM notes_note WHERE length(title) > 3;
COMMENT ON TABLE legacy IS 'Imported from the old system';
COMMENT ON COLUMN legacy.code IS 'The customer''s code';
COMMENT ON VIEW long_notes IS 'Notes worth reading';
INSERT INTO notes_note (title, created_at) VALUES ('first', now()), ('second', now());
INSERT INTO legacy (code, price, note_id) VALUES ('a', 1, 1), ('b', 2, 2);
INSERT INTO audit_events (payload) VALUES ('{"a": 1}'), ('{"b": 2}');
INSERT INTO scratch VALUES ('k');
"""


def execute_in(schema: str, statements: str) -> None:
    with tenant_context(Tenant.objects.get(schema_name=schema)), connection.cursor() as cursor:
        cursor.execute(statements)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- clone_tenant -----------------------------------------------------------------------------


def test_clone_copies_structure_rows_and_sequence_positions(db):
    source = provision_tenant(schema_name="source", name="Source", domain="source.test")
    execute_in("source", RICHER_SCHEMA)

    copy = clone_tenant(source, schema_name="copy", name="Copy", domain="copy.test")
    assert copy.status == TenantStatus.ACTIVE
    assert differences(schema_catalog("source"), schema_catalog("copy")) == []
    for table in ("notes_note", "legacy", "audit_events", "scratch", "auth_permission"):
        query = sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table))
        assert rows_of("copy", query) == rows_of("source", query), table
    assert rows_of("copy", "SELECT count(*) FROM legacy") == [(2,)]

    # New rows in the copy continue the sequences, and the two tenants stay apart.
    with tenant_context(copy):
        note = Note.objects.create(title="third")
        assert note.id == 3
        assert [n.title for n in Note.objects.all()] == ["first", "second", "third"]
    with tenant_context(source):
        assert Note.objects.count() == 2
    assert rows_of("copy", "INSERT INTO audit_events (payload) VALUES ('{}') RETURNING id") == [
        (70,)
    ]
    # The source's session cached 1000, 1005 and 1010 (CACHE 3): the copy goes on after them.
    assert rows_of("copy", "SELECT nextval('invoice_numbers')") == [(1015,)]


def test_clone_refuses_functions_and_leaves_nothing(db):
    source = provision_tenant(schema_name="source", name="Source")
    execute_in(
        "source",
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RETURN NEW; END $$; "
        "CREATE TRIGGER touch BEFORE INSERT ON notes_note FOR EACH ROW EXECUTE FUNCTION touch()",
    )
    with pytest.raises(CloneNotSupported, match="function touch, trigger touch on notes_note"):
        clone_tenant(source, schema_name="copy", name="Copy")
    assert not schema_exists("copy")
    assert list(Tenant.objects.values_list("schema_name", flat=True)) == ["source"]


def test_clone_errors(db):
    source = provision_tenant(schema_name="source", name="Source", domain="source.test")
    provision_tenant(schema_name="taken", name="Taken")
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidSchemaName):
        clone_tenant(source, schema_name="Bad-Name", name="X")
    assert queries.captured_queries == []
    with pytest.raises(TenantAlreadyExists):
        clone_tenant(source, schema_name="taken", name="X")
    with pytest.raises(TenantAlreadyExists):
        clone_tenant(source, schema_name="other", name="X", domain="source.test")
    assert not schema_exists("other")


# --- rename_tenant ----------------------------------------------------------------------------


def test_rename_moves_the_schema_and_its_rows(db):
    tenant = provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    with tenant_context(tenant):
        Note.objects.create(title="kept")
    rename_tenant(tenant, "acme_corp")
    assert tenant.schema_name == "acme_corp"
    assert Tenant.objects.get(pk=tenant.pk).schema_name == "acme_corp"
    assert not schema_exists("acme") and schema_exists("acme_corp")
    with tenant_context(tenant):
        assert [note.title for note in Note.objects.all()] == ["kept"]
        Note.objects.create(title="after")  # sequences moved with their tables


@pytest.mark.parametrize("name", ["Acme", "pg_acme", "public", TEMPLATE, "a" * 64, "x;drop"])
def test_rename_refuses_invalid_names_before_any_sql(db, name):
    tenant = provision_tenant(schema_name="acme", name="Acme")
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidSchemaName):
        rename_tenant(tenant, name)
    assert queries.captured_queries == []
    assert tenant.schema_name == "acme" and schema_exists("acme")


def test_rename_refuses_names_in_use(db):
    tenant = provision_tenant(schema_name="acme", name="Acme")
    provision_tenant(schema_name="globex", name="Globex")
    create_schema("orphan")
    with pytest.raises(TenantAlreadyExists):
        rename_tenant(tenant, "globex")
    with pytest.raises(SchemaAlreadyExists):
        rename_tenant(tenant, "orphan")
    assert Tenant.objects.get(pk=tenant.pk).schema_name == "acme" and schema_exists("acme")
    drop_schema("orphan")


# --- the template schema ----------------------------------------------------------------------


def test_template_is_made_again_when_missing(db):
    drop_schema(TEMPLATE)
    tenant = provision_tenant(schema_name="acme", name="Acme")
    assert schema_exists(TEMPLATE)
    assert rows_of("acme", "SELECT count(*) FROM notes_note") == [(0,)]
    assert differences(schema_catalog(TEMPLATE), schema_catalog("acme")) == []
    assert tenant.status == TenantStatus.ACTIVE
    assert not ensure_template()  # up to date now: nothing to do


def test_template_is_migrated_when_behind(db):
    migrate_schema(TEMPLATE, "notes", "zero")
    assert rows_of(TEMPLATE, "SELECT to_regclass('notes_note')") == [(None,)]
    provision_tenant(schema_name="acme", name="Acme")
    assert rows_of("acme", "SELECT count(*) FROM django_migrations WHERE app = 'notes'") == [(1,)]
    assert rows_of(TEMPLATE, "SELECT to_regclass('notes_note')::text") == [("notes_note",)]


def test_template_with_objects_a_copy_cannot_make_is_refused_clearly(db):
    with public_context(), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE FUNCTION {}.answer() RETURNS int LANGUAGE sql AS 'SELECT 42'").format(
                sql.Identifier(TEMPLATE)
            )
        )
    clear_template_cache()  # a change by hand, not by a migration
    try:
        with pytest.raises(CloneNotSupported, match=r"function answer\b.*--migrate"):
            provision_tenant(schema_name="acme", name="Acme")
        assert not schema_exists("acme") and not Tenant.objects.exists()
        provision_tenant(schema_name="acme", name="Acme", method="migrate")
        assert Tenant.objects.get().status == TenantStatus.ACTIVE
    finally:
        clear_template_cache()


def test_template_is_never_a_tenant(db):
    provision_tenant(schema_name="acme", name="Acme")
    assert TEMPLATE in list_schemas()
    assert TEMPLATE not in run("list_tenants")
    with pytest.raises(InvalidSchemaName):
        provision_tenant(schema_name=TEMPLATE, name="Template")


# --- the commands -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clone_tenant", "rename_tenant"])
def test_help_text(name):
    command = load_command_class(get_commands()[name], name)
    text = command.create_parser("manage.py", name).format_help()
    assert command.help.split()[0] in text


@pytest.mark.parametrize(
    "args",
    [
        ("clone_tenant", "--from", "acme", "--schema", "Bad-Name"),
        ("clone_tenant", "--from", "pg_x", "--schema", "copy"),
        ("clone_tenant", "--from", "acme", "--schema", TEMPLATE),
        ("rename_tenant", "--schema", "acme", "--to", "public", "--noinput"),
        ("rename_tenant", "--schema", "acme", "--to", "x'; DROP SCHEMA public;--", "--noinput"),
    ],
)
def test_commands_refuse_bad_names_before_any_sql(db, args):
    with CaptureQueriesContext(connection) as queries, pytest.raises(CommandError, match="Invalid"):
        run(*args)
    assert queries.captured_queries == []


def test_clone_and_rename_commands(db):
    source = provision_tenant(schema_name="acme", name="Acme")
    with tenant_context(source):
        Note.objects.create(title="hello")
    out = run("clone_tenant", "--from", "acme", "--schema", "acme_demo", "--domain", "demo.test")
    assert "Created tenant 'Acme copy': schema acme_demo, copied from acme" in out
    with pytest.raises(CommandError, match="No tenant with schema 'nobody'"):
        run("clone_tenant", "--from", "nobody", "--schema", "copy2")
    with pytest.raises(CommandError, match="already exists"):
        run("clone_tenant", "--from", "acme", "--schema", "acme_demo")

    with pytest.raises(CommandError, match="not running on a terminal"):
        run("rename_tenant", "--schema", "acme_demo", "--to", "demo")
    with pytest.raises(CommandError, match="already exists"):
        run("rename_tenant", "--schema", "acme_demo", "--to", "acme", "--noinput")
    out = run("rename_tenant", "--schema", "acme_demo", "--to", "demo", "--noinput")
    assert "Renamed tenant schema 'acme_demo' to 'demo'" in out
    with tenant_context(Tenant.objects.get(schema_name="demo")):
        assert [note.title for note in Note.objects.all()] == ["hello"]


@pytest.mark.django_db(transaction=True)
def test_tenant_test_case_makes_the_template_once_outside_its_transaction():
    drop_schema(TEMPLATE)  # committed: as in a project's fresh test database

    class Case(TenantTestCase):
        tenant_schema = "case_tenant"

        def test_tenant_has_its_tables(self) -> None:
            assert Note.objects.count() == 0

    try:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(Case)
        result = unittest.TextTestRunner(stream=io.StringIO()).run(suite)
        assert result.wasSuccessful(), result.errors + result.failures
        assert schema_exists(TEMPLATE)  # kept for the next class
        assert not schema_exists("case_tenant")  # rolled back with the class
    finally:
        ensure_template()


SQL_FILES = sorted(path.stem for path in (Path(tenancy_app.__file__).parent / "sql").glob("*.sql"))


@pytest.mark.parametrize("name", SQL_FILES)
def test_catalog_queries_keep_parameters_out_of_comments(name: str) -> None:
    """Client-side binding fills placeholders in comments too: a value with a newline
    would end the comment. No comment names a placeholder, and none is sent."""
    from tenancy_app.cloning import _query

    text = (Path(tenancy_app.__file__).parent / "sql" / f"{name}.sql").read_text()
    comments = [line for line in text.splitlines() if line.lstrip().startswith("--")]
    assert comments  # the files are documented
    assert [line for line in comments if "%(" in line or "%s" in line] == []
    assert "--" not in _query(name)
    assert "%(schema)s" in _query(name)
