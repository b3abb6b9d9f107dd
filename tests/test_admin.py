"""The admin: the tenant registry on the public domain, each tenant's admin on its domain.

Real PostgreSQL throughout; tenants are provisioned (or, for the long lists, registered
with a schema and a table of their own) inside each test's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection
from django.template.defaultfilters import filesizeformat
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone
from psycopg import sql

from tenancy_app import public_context, tenant_context
from tenancy_app.admin import TenantAdmin
from tenancy_app.admin.queries import schema_statistics
from tenancy_app.admin_site import TenancyAdminSite, model_is_placed
from tenancy_app.apps import TenancyAdminConfig, TenancyConfig
from tenancy_app.models import Domain, SchemaMigrationResult, Tenant, TenantStatus
from tenancy_app.schemas import create_schema, schema_exists
from tests.notes.models import Note

CHANGELIST = "/admin/tenancy_app/tenant/"
ADD = "/admin/tenancy_app/tenant/add/"


# A site of this module's own (served by the urlpatterns below) with a tenant-only model,
# a shared-only model, a model of both, and a shared-only model opted out.
class EverywhereResultAdmin(admin.ModelAdmin):
    reachable_everywhere = True


reach_site = TenancyAdminSite(name="reach")
reach_site.register(Tenant, TenantAdmin)
reach_site.register(Note)
reach_site.register(get_user_model())
reach_site.register(SchemaMigrationResult, EverywhereResultAdmin)
urlpatterns = [path("reach/", reach_site.urls)]


# Fixtures ---------------------------------------------------------------------------


@pytest.fixture
def operator(db) -> Any:
    with public_context():
        return get_user_model().objects.create_superuser("root", "root@public.test", "pw")


@pytest.fixture
def public_admin(operator) -> Client:
    client = Client(HTTP_HOST="public.test")
    client.force_login(operator)
    return client


def _tenant_superuser(tenant: Any, username: str = "boss", password: str = "pw") -> Any:
    with tenant_context(tenant):
        return get_user_model().objects.create_superuser(
            username, f"{username}@{tenant.schema_name}.test", password
        )


@pytest.fixture
def tenant_admin_of() -> Callable[[Any], Client]:
    def login(tenant: Any) -> Client:
        user = _tenant_superuser(tenant)
        client = Client(HTTP_HOST=f"{tenant.schema_name}.test")
        with tenant_context(tenant):  # the session and last_login live in the tenant's schema
            client.force_login(user)
        return client

    return login


def register_tenants(names: list[str], *, rows: int = 3) -> list[Tenant]:
    """Registry rows, a primary domain and a schema with one small table each (no migrations)."""
    with public_context():
        Tenant.objects.bulk_create(
            [
                Tenant(schema_name=name, name=name.title(), status=TenantStatus.ACTIVE)
                for name in names
            ]
        )
        tenants = list(Tenant.objects.filter(schema_name__in=names))
        Domain.objects.bulk_create(
            [Domain(tenant=t, domain=f"{t.schema_name}.test", is_primary=True) for t in tenants]
        )
        with connection.cursor() as cursor:
            for name in names:
                schema = sql.Identifier(name)
                cursor.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
                cursor.execute(
                    sql.SQL("CREATE TABLE {}.items (id bigint PRIMARY KEY, label text)").format(
                        schema
                    )
                )
                cursor.execute(
                    sql.SQL(
                        "INSERT INTO {}.items SELECT i, repeat('x', 100) "
                        "FROM generate_series(1, %s) i"
                    ).format(schema),
                    [rows],
                )
    return tenants


def record_result(
    schema_name: str, status: str = "ok", *, pending: int = 0, error: str = ""
) -> None:
    now = timezone.now()
    with public_context():
        SchemaMigrationResult.objects.update_or_create(
            schema_name=schema_name,
            defaults={
                "status": status,
                "error": error,
                "applied": 3,
                "pending": pending,
                "started_at": now,
                "finished_at": now,
            },
        )


def rows_of(html: str) -> dict[str, str]:
    """The changelist's rows, keyed by schema name: the row's HTML."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        found = re.search(r'class="field-schema_name">([^<]+)<', row)
        if found:
            rows[found.group(1)] = row
    return rows


def messages_of(response: Any) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


# The admin site swap ---------------------------------------------------------------


def test_admin_config_swaps_in_the_tenancy_site(db) -> None:
    assert isinstance(apps.get_app_config("admin"), TenancyAdminConfig)
    assert isinstance(apps.get_app_config("tenancy_app"), TenancyConfig)
    assert isinstance(admin.site, TenancyAdminSite)
    # Every ModelAdmin registered on it refuses where its model is not placed.
    with tenant_context(Tenant(schema_name="acme", name="Acme")):
        assert not model_is_placed(Tenant)
        assert model_is_placed(Note)
        assert model_is_placed(get_user_model())
    assert model_is_placed(Tenant)
    assert not model_is_placed(Note)


# Adding a tenant -------------------------------------------------------------------


def test_adding_a_tenant_provisions_it_with_its_primary_domain(public_admin: Client) -> None:
    page = public_admin.get(ADD)
    assert page.status_code == 200
    assert b'name="domain"' in page.content
    assert b'name="status"' not in page.content  # provisioning decides the status

    response = public_admin.post(
        ADD, {"schema_name": "acme", "name": "Acme", "domain": "acme.test"}
    )
    assert response.status_code == 302, response.content[:3000]
    tenant = Tenant.objects.get(schema_name="acme")
    assert tenant.status == TenantStatus.ACTIVE
    assert list(tenant.domains.values_list("domain", "is_primary")) == [("acme.test", True)]
    assert schema_exists("acme")
    # The tenant's tables are there: it is served at once.
    assert Client(HTTP_HOST="acme.test").get("/notes/").json()["schema"] == "acme"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"schema_name": "pg_evil"}, "schema_name", "reserved"),
        ({"schema_name": "Bad-Name"}, "schema_name", "Invalid schema name"),
        ({"schema_name": "public"}, "schema_name", "reserved"),
        ({"schema_name": "taken"}, "schema_name", "already exists"),
        ({"schema_name": "orphan"}, "schema_name", "already has a schema named orphan"),
        ({"domain": "taken.test"}, "domain", "already belongs to a tenant"),
        ({"domain": "Not A Host"}, "domain", "Invalid host name"),
        ({"domain": "ac_me.test"}, "domain", "underscores"),
        ({"domain": "public.test"}, "domain", "PUBLIC_DOMAINS"),
    ],
)
def test_add_form_errors_create_nothing(
    public_admin: Client, make_tenant, data: dict[str, str], field: str, message: str
) -> None:
    make_tenant("taken", domain="taken.test")
    create_schema("orphan")  # a schema in the database that no tenant owns
    before = (list(Tenant.objects.values_list("schema_name", flat=True)), Domain.objects.count())
    post = {"schema_name": "newco", "name": "New Co", "domain": "newco.test", **data}

    response = public_admin.post(ADD, post)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field], errors
    assert message in str(errors[field])
    assert (
        list(Tenant.objects.values_list("schema_name", flat=True)),
        Domain.objects.count(),
    ) == before
    assert not schema_exists("newco")
    assert schema_exists("orphan")  # left alone


# The list --------------------------------------------------------------------------


def migrations_applied(schema: str, *, missing: int = 0) -> None:
    """Give ``schema`` public's django_migrations (every migration), less ``missing`` rows."""
    target = sql.Identifier(schema, "django_migrations")
    create = sql.SQL("CREATE TABLE {} (LIKE public.django_migrations INCLUDING ALL)")
    copy = sql.SQL("INSERT INTO {} SELECT * FROM public.django_migrations")
    drop = sql.SQL("DELETE FROM {0} WHERE id IN (SELECT id FROM {0} ORDER BY id DESC LIMIT %s)")
    with public_context(), connection.cursor() as cursor:
        cursor.execute(create.format(target))
        cursor.execute(copy.format(target))
        cursor.execute(drop.format(target), [missing])


@pytest.fixture
def four_tenants(db) -> list[Tenant]:
    tenants = register_tenants(["acme", "globex", "hooli", "initech"])
    migrations_applied("acme")
    migrations_applied("hooli")
    migrations_applied("initech", missing=2)
    record_result("acme")
    record_result("globex", "failed", error='relation "x" already exists')
    record_result("initech", pending=2)
    with public_context():
        Tenant.objects.filter(schema_name="hooli").update(status=TenantStatus.SUSPENDED)
    return tenants


def test_list_shows_domain_status_migration_state_and_size(
    public_admin: Client, four_tenants
) -> None:
    response = public_admin.get(CHANGELIST)
    assert response.status_code == 200
    rows = rows_of(response.content.decode())
    assert sorted(rows) == ["acme", "globex", "hooli", "initech"]
    assert "acme.test" in rows["acme"]
    assert "Active" in rows["acme"] and "Suspended" in rows["hooli"]
    assert "up to date" in rows["acme"]
    assert re.search(r'title="relation &quot;x&quot; already exists">failed<', rows["globex"])
    # hooli has no recorded run, but its schema has every migration (as a copy of the
    # template has): what the schema has now wins.
    assert "up to date" in rows["hooli"]
    assert "2 pending" in rows["initech"]
    # The size column is the schema's size on disk (table, its index and TOAST).
    size = schema_statistics(["acme"])["acme"].size
    assert size > 0
    assert f'class="field-schema_size">{filesizeformat(size)}<' in rows["acme"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("migration_state=up_to_date", ["acme"]),
        ("migration_state=failed", ["globex"]),
        ("migration_state=pending", ["initech"]),
        ("migration_state=never", ["hooli"]),
        ("status__exact=suspended", ["hooli"]),
        ("status__exact=active&migration_state=never", []),
        ("q=globex.test", ["globex"]),
        ("q=Initech", ["initech"]),
    ],
)
def test_list_filters_and_search(
    public_admin: Client, four_tenants, query: str, expected: list[str]
) -> None:
    response = public_admin.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert sorted(rows_of(response.content.decode())) == expected


def test_list_shows_migrations_added_since_the_last_run(public_admin: Client, four_tenants) -> None:
    """After a deploy adds a migration file, the list says so before migrate_schemas runs."""
    with public_context(), connection.cursor() as cursor:  # acme now lacks its newest one
        cursor.execute(
            "DELETE FROM acme.django_migrations"
            " WHERE id = (SELECT max(id) FROM acme.django_migrations)"
        )
    rows = rows_of(public_admin.get(CHANGELIST).content.decode())
    assert "1 pending" in rows["acme"]  # though its last recorded run said up to date


def test_list_statement_count_does_not_depend_on_the_page_size(
    public_admin: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"t{i:03d}" for i in range(60)]
    register_tenants(names)
    for name in names[::3]:
        record_result(name, pending=1)
    model_admin = admin.site._registry[Tenant]
    counts = {}
    for per_page in (10, 50):
        monkeypatch.setattr(model_admin, "list_per_page", per_page)
        public_admin.get(CHANGELIST)  # warm: session, content types
        with CaptureQueriesContext(connection) as queries:
            response = public_admin.get(CHANGELIST)
        assert len(rows_of(response.content.decode())) == per_page
        counts[per_page] = len(queries)
    assert counts[10] == counts[50], counts


def test_schema_size_is_computed_for_the_rows_of_the_page_only(
    public_admin: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"t{i:03d}" for i in range(30)]
    register_tenants(names)
    monkeypatch.setattr(admin.site._registry[Tenant], "list_per_page", 10)
    with CaptureQueriesContext(connection) as captured:
        public_admin.get(f"{CHANGELIST}?p=2")
    page_sql = [q["sql"] for q in captured.captured_queries if "pg_total_relation_size" in q["sql"]]
    assert len(page_sql) == 1
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + page_sql[0])
        plan = cursor.fetchone()[0]
    loops = _size_subplan_loops(plan[0]["Plan"])
    assert loops == [10], loops


def _size_subplan_loops(node: dict[str, Any]) -> list[int]:
    """Actual loops of the subplans that read pg_depend (the size subquery)."""
    found = []
    if node.get("Relation Name") == "pg_depend" or node.get("Index Name", "").startswith(
        "pg_depend"
    ):
        found.append(node["Actual Loops"])
    for child in node.get("Plans", ()):
        found.extend(_size_subplan_loops(child))
    return found


def test_schema_statistics_agree_with_the_catalog(db) -> None:
    register_tenants(["acme"], rows=500)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE acme.other (id bigint GENERATED ALWAYS AS IDENTITY, body text)"
        )
        cursor.execute("CREATE VIEW acme.v AS SELECT 1 AS one")
        cursor.execute("ANALYZE acme.items")
        cursor.execute(
            "SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'p')), "
            "sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relkind NOT IN ('i', 't')) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'acme'"
        )
        tables, size = cursor.fetchone()
    stats = schema_statistics(["acme", "nowhere"])
    assert stats["acme"].exists and not stats["nowhere"].exists
    assert (stats["acme"].tables, stats["acme"].size) == (tables, size) == (2, size)
    assert stats["acme"].estimated_rows == 500
    assert stats["acme"].tables_not_analyzed == 1  # acme.other


# The change page -------------------------------------------------------------------


def test_change_page_shows_statistics_and_the_last_migration(public_admin: Client) -> None:
    (acme,) = register_tenants(["acme"], rows=200)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE acme.items")
    record_result("acme", "failed", error="boom: column already exists")
    response = public_admin.get(f"{CHANGELIST}{acme.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<li>tables: 1</li>" in html
    assert "<li>estimated rows: 200</li>" in html
    assert "size on disk" in html
    assert "boom: column already exists" in html
    assert 'name="schema_name"' not in html  # fixed once the schema exists
    assert 'name="domains-0-domain"' in html


def _domain_post(tenant: Tenant, domains: list[tuple[Domain | None, str, bool, bool]]) -> dict:
    data: dict[str, Any] = {
        "name": tenant.name,
        "status": tenant.status,
        "domains-TOTAL_FORMS": str(len(domains)),
        "domains-INITIAL_FORMS": str(sum(1 for d in domains if d[0] is not None)),
        "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000",
    }
    for i, (existing, host, primary, delete) in enumerate(domains):
        data[f"domains-{i}-id"] = existing.pk if existing else ""
        data[f"domains-{i}-tenant"] = tenant.pk
        data[f"domains-{i}-domain"] = host
        if primary:
            data[f"domains-{i}-is_primary"] = "on"
        if delete:
            data[f"domains-{i}-DELETE"] = "on"
    return data


def test_domain_inline_keeps_exactly_one_primary(public_admin: Client, make_tenant) -> None:
    acme = make_tenant("acme", domain="acme.test")
    old = acme.domains.get()
    url = f"{CHANGELIST}{acme.pk}/change/"

    two = public_admin.post(
        url,
        _domain_post(acme, [(old, "acme.test", True, False), (None, "acme.example", True, False)]),
    )
    assert two.status_code == 200
    assert "exactly one domain as primary" in str(
        two.context["inline_admin_formsets"][0].formset.non_form_errors()
    )
    none = public_admin.post(url, _domain_post(acme, [(old, "acme.test", False, False)]))
    assert none.status_code == 200
    assert list(acme.domains.values_list("domain", "is_primary")) == [("acme.test", True)]

    # Moving the primary to a new domain in one save.
    moved = public_admin.post(
        url,
        _domain_post(acme, [(old, "acme.test", False, False), (None, "acme.example", True, False)]),
    )
    assert moved.status_code == 302, (
        moved.context and moved.context["inline_admin_formsets"][0].formset.errors
    )
    assert sorted(acme.domains.values_list("domain", "is_primary")) == [
        ("acme.example", True),
        ("acme.test", False),
    ]
    # ... and back, deleting the other one.
    new = acme.domains.get(domain="acme.example")
    back = public_admin.post(
        url,
        _domain_post(acme, [(new, "acme.example", False, True), (old, "acme.test", True, False)]),
    )
    assert back.status_code == 302
    assert list(acme.domains.values_list("domain", "is_primary")) == [("acme.test", True)]
    # No domain at all is allowed (header or subfolder resolvers need none).
    gone = public_admin.post(url, _domain_post(acme, [(old, "acme.test", True, True)]))
    assert gone.status_code == 302
    assert not acme.domains.exists()


def test_domain_admin_refuses_a_second_primary(public_admin: Client, make_tenant) -> None:
    acme = make_tenant("acme", domain="acme.test")
    response = public_admin.post(
        "/admin/tenancy_app/domain/add/",
        {"domain": "www.acme.test", "tenant": acme.pk, "is_primary": "on"},
    )
    assert response.status_code == 200
    assert "acme.test is the primary domain of" in str(response.context["adminform"].form.errors)
    added = public_admin.post(
        "/admin/tenancy_app/domain/add/", {"domain": "www.acme.test", "tenant": acme.pk}
    )
    assert added.status_code == 302
    assert sorted(acme.domains.values_list("domain", "is_primary")) == [
        ("acme.test", True),
        ("www.acme.test", False),
    ]


def test_domain_admin_keeps_the_normal_form_and_refuses_the_rest(
    public_admin: Client, make_tenant
) -> None:
    acme = make_tenant("acme", domain="acme.test")
    add = "/admin/tenancy_app/domain/add/"
    for bad, reason in (("acme.test:8000", "port"), ("*.acme.test", "wildcards")):
        refused = public_admin.post(add, {"domain": bad, "tenant": acme.pk})
        assert refused.status_code == 200
        assert reason in str(refused.context["adminform"].form.errors["domain"])
    added = public_admin.post(add, {"domain": "Shop.Bücher.Test", "tenant": acme.pk})
    assert added.status_code == 302
    assert sorted(acme.domains.values_list("domain", flat=True)) == [
        "acme.test",
        "shop.xn--bcher-kva.test",
    ]
    taken = public_admin.post(add, {"domain": "ACME.test", "tenant": acme.pk})
    assert "already exists" in str(taken.context["adminform"].form.errors["domain"])


# Actions ---------------------------------------------------------------------------


def _action(client: Client, action: str, tenants: list[Any], **extra: str) -> Any:
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [t.pk for t in tenants], **extra},
        follow=False,
    )


def test_default_bulk_delete_is_replaced(public_admin: Client) -> None:
    response = public_admin.get(CHANGELIST)
    actions = dict(response.context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert {"migrate_tenants", "suspend_tenants", "activate_tenants", "delete_tenants"} <= set(
        actions
    )


def test_suspend_and_activate_take_effect_on_the_next_request(
    public_admin: Client, make_tenant
) -> None:
    acme, globex = make_tenant("acme"), make_tenant("globex")
    site = Client(HTTP_HOST="acme.test")
    assert site.get("/notes/").status_code == 200  # the lookup is now cached

    response = _action(public_admin, "suspend_tenants", [acme])
    assert response.status_code == 302
    assert ("success", "1 tenant is now Suspended.") in messages_of(response)
    assert Tenant.objects.get(pk=acme.pk).status == TenantStatus.SUSPENDED
    assert site.get("/notes/").status_code == 503
    assert Client(HTTP_HOST="globex.test").get("/notes/").status_code == 200

    response = _action(public_admin, "activate_tenants", [acme, globex])
    assert ("success", "1 tenant is now Active.") in messages_of(response)
    assert site.get("/notes/").status_code == 200


def test_activate_leaves_failed_tenants_alone(public_admin: Client) -> None:
    (broken,) = register_tenants(["broken"])
    Tenant.objects.filter(pk=broken.pk).update(status=TenantStatus.FAILED)
    response = _action(public_admin, "activate_tenants", [broken])
    assert any(
        level == "warning" and "not suspended" in text for level, text in messages_of(response)
    )
    assert Tenant.objects.get(pk=broken.pk).status == TenantStatus.FAILED


def test_delete_confirmation_shows_what_will_be_dropped(public_admin: Client) -> None:
    acme, globex = register_tenants(["acme", "globex"])
    Domain.objects.create(tenant=acme, domain="www.acme.test", is_primary=False)
    response = _action(public_admin, "delete_tenants", [acme, globex])
    assert response.status_code == 200
    html = response.content.decode()
    stats = schema_statistics(["acme"])["acme"]
    row = re.search(r'<tr data-schema="acme">(.*?)</tr>', html, flags=re.S).group(1)
    assert "<code>acme</code>" in row
    assert f"<td>{stats.tables}</td>" in row
    assert "acme.test (primary), www.acme.test" in row
    assert 'data-schema="globex"' in html
    # Dropping the schemas is a separate choice, not ticked.
    assert re.search(r'<input type="checkbox" name="drop_schema" id="id_drop_schema">', html)
    assert Tenant.objects.count() == 2  # nothing happened yet


def test_delete_keeps_the_schema_unless_asked(public_admin: Client) -> None:
    acme, globex = register_tenants(["acme", "globex"])
    response = _action(public_admin, "delete_tenants", [acme], post="yes")
    assert response.status_code == 302
    assert not Tenant.objects.filter(schema_name="acme").exists()
    assert not Domain.objects.filter(domain="acme.test").exists()
    assert schema_exists("acme")
    assert ("success", "Deleted Acme (acme); its schema acme was kept.") in messages_of(response)

    response = _action(public_admin, "delete_tenants", [globex], post="yes", drop_schema="on")
    assert response.status_code == 302
    assert not Tenant.objects.filter(schema_name="globex").exists()
    assert not schema_exists("globex")
    # Deleting a tenant is in the admin's history.
    from django.contrib.admin.models import DELETION, LogEntry

    assert set(
        LogEntry.objects.filter(action_flag=DELETION).values_list("object_repr", flat=True)
    ) == {
        "Acme (acme)",
        "Globex (globex)",
    }


def test_single_delete_page_asks_the_same_question(public_admin: Client) -> None:
    (acme,) = register_tenants(["acme"])
    url = f"{CHANGELIST}{acme.pk}/delete/"
    page = public_admin.get(url)
    assert page.status_code == 200
    assert b'name="drop_schema"' in page.content and b'name="action"' not in page.content
    response = public_admin.post(url, {"post": "yes", "drop_schema": "on"})
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert not Tenant.objects.exists()
    assert not schema_exists("acme")


@pytest.fixture
def committed_pair(make_committed_tenant) -> Iterator[list[Tenant]]:
    yield [make_committed_tenant("acme"), make_committed_tenant("globex")]
    with public_context():
        SchemaMigrationResult.objects.filter(schema_name__in=["acme", "globex"]).delete()
        get_user_model().objects.filter(username="root").delete()


def test_migrate_action_reports_each_tenant(committed_pair: list[Tenant]) -> None:
    acme, globex = committed_pair
    with public_context():
        user = get_user_model().objects.create_superuser("root", "root@public.test", "pw")
    client = Client(HTTP_HOST="public.test")
    client.force_login(user)
    # Take acme back two migrations of a tenant app: the action brings it forward again.
    from django.core.management import call_command

    call_command("migrate_schemas", "inventory", "0008", schema=["acme"], verbosity=0)
    with tenant_context(acme), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'inventory'")
        assert cursor.fetchone()[0] == 8

    response = _action(client, "migrate_tenants", [acme, globex])

    assert response.status_code == 302
    with tenant_context(acme), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'inventory'")
        assert cursor.fetchone()[0] == 10
    reported = messages_of(response)
    assert ("success", "Acme (acme): up to date (2 migrations run).") in reported, reported
    assert ("success", "Globex (globex): up to date (0 migrations run).") in reported, reported
    listed = rows_of(client.get(CHANGELIST).content.decode())
    assert "up to date" in listed["acme"] and "up to date" in listed["globex"]


def test_migrate_action_refuses_while_another_run_holds_the_lock(
    committed_pair: list[Tenant],
) -> None:
    from tenancy_app.migrator.lock import exclusive_run

    acme, globex = committed_pair
    with public_context():
        user = get_user_model().objects.create_superuser("root", "root@public.test", "pw")
    client = Client(HTTP_HOST="public.test")
    client.force_login(user)
    with exclusive_run("default"):  # a deploy's migrate_schemas, in another process
        response = _action(client, "migrate_tenants", [acme, globex])
    reported = messages_of(response)
    assert len(reported) == 1 and reported[0][0] == "error", reported
    assert "Another migrate_schemas run is in progress" in reported[0][1]
    with public_context():
        assert not SchemaMigrationResult.objects.filter(schema_name__in=["acme", "globex"])


# Reachability: the registry on the public domain, tenant apps on tenants' domains ---


@pytest.fixture
def reach_urls(settings) -> None:
    settings.ROOT_URLCONF = __name__
    settings.TENANCY = {**settings.TENANCY, "PUBLIC_URLCONF": __name__}


def _index_links(response: Any) -> set[str]:
    return set(re.findall(r'href="/reach/(\w+/\w+)/"', response.content.decode()))


def test_public_admin_shows_shared_models_only(public_admin: Client, reach_urls) -> None:
    index = public_admin.get("/reach/")
    assert index.status_code == 200
    assert _index_links(index) == {
        "tenancy_app/tenant",
        "auth/user",
        "tenancy_app/schemamigrationresult",
    }
    assert public_admin.get("/reach/tenancy_app/tenant/").status_code == 200
    assert public_admin.get("/reach/notes/note/").status_code == 403  # no table here
    assert public_admin.get("/reach/notes/note/add/").status_code == 403


def test_tenant_admin_shows_tenant_models_only(make_tenant, tenant_admin_of, reach_urls) -> None:
    acme = make_tenant("acme")
    client = tenant_admin_of(acme)
    index = client.get("/reach/")
    assert index.status_code == 200
    # The shared-only registry is refused; the opted-out admin stays reachable.
    assert _index_links(index) == {"notes/note", "auth/user", "tenancy_app/schemamigrationresult"}
    assert client.get("/reach/notes/note/").status_code == 200
    assert client.get("/reach/tenancy_app/tenant/").status_code == 403
    assert client.get("/reach/tenancy_app/tenant/add/").status_code == 403
    assert client.get("/reach/tenancy_app/schemamigrationresult/").status_code == 200


def test_tenant_admin_does_not_expose_the_registry(make_tenant, tenant_admin_of) -> None:
    acme = make_tenant("acme")
    make_tenant("globex")
    client = tenant_admin_of(acme)
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"tenancy_app/tenant" not in index.content
    assert b"auth/user" in index.content  # the tenant's own users
    assert client.get("/admin/tenancy_app/tenant/").status_code == 403
    assert client.get("/admin/tenancy_app/domain/").status_code == 403
    # Its users are the tenant's: the public operator is not among them.
    users = client.get("/admin/auth/user/").content.decode()
    assert "boss" in users and "root" not in users


def test_registry_admin_refuses_in_a_tenant_on_any_admin_site(make_tenant, rf) -> None:
    acme = make_tenant("acme")
    model_admin = TenantAdmin(Tenant, admin.AdminSite(name="plain"))
    request = rf.get("/")
    request.user = _tenant_superuser(acme)
    with tenant_context(acme):
        assert not model_admin.has_module_permission(request)
        assert not model_admin.has_view_permission(request)
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_a_tenant_session_cookie_is_not_a_login_on_another_tenant(make_tenant) -> None:
    acme, globex = make_tenant("acme"), make_tenant("globex")
    _tenant_superuser(acme, "boss", "acme-pw")
    _tenant_superuser(globex, "boss", "globex-pw")  # same username, even the same user id
    on_acme = Client(HTTP_HOST="acme.test")
    login = on_acme.post("/admin/login/?next=/admin/", {"username": "boss", "password": "acme-pw"})
    assert login.status_code == 302 and login["Location"] == "/admin/"
    cookie = on_acme.cookies["sessionid"].value
    assert on_acme.get("/admin/").status_code == 200

    on_globex = Client(HTTP_HOST="globex.test")
    on_globex.cookies["sessionid"] = cookie
    response = on_globex.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert on_globex.get("/admin/auth/user/").status_code == 302
    on_public = Client(HTTP_HOST="public.test")
    on_public.cookies["sessionid"] = cookie
    assert on_public.get("/admin/").status_code == 302
