"""across_tenants: one queryset over many tenants, as schema-qualified UNION ALL batches."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Sum
from django.test.utils import CaptureQueriesContext

from tenancy_app import across_tenants, get_current_schema, public_context, tenant_context
from tenancy_app.exceptions import InvalidSchemaName
from tenancy_app.models import Tenant, TenantStatus
from tenancy_app.schemas import drop_schema
from tests.inventory.models import Category, Product
from tests.notes.models import Note

ROWS = {"acme": 3, "globex": 1, "initech": 0, "umbrella": 2}


def names(pairs: Any) -> list[tuple[str, Any]]:
    return [(tenant.schema_name, row) for tenant, row in pairs]


@pytest.fixture
def tenants(make_tenant) -> dict[str, Tenant]:
    """Four tenants with 3, 1, 0 and 2 notes; umbrella is suspended."""
    made = {}
    for name, count in ROWS.items():
        tenant = made[name] = make_tenant(name)
        with tenant_context(tenant):
            Note.objects.bulk_create(Note(title=f"{name} {i}") for i in range(count))
            general = Category.objects.get(slug="general")
            Product.objects.bulk_create(
                Product(sku=f"{name}-{i}", name="p", category=general, price=Decimal(i) + 1)
                for i in range(count)
            )
    with public_context():
        Tenant.objects.filter(schema_name="umbrella").update(status=TenantStatus.SUSPENDED)
        made["umbrella"].refresh_from_db()
    return made


def test_rows_come_with_their_tenant_and_active_tenants_only(tenants):
    rows = names(across_tenants(Note.objects.all()))
    assert [(schema, note.title) for schema, note in rows] == [
        ("acme", "acme 0"),
        ("acme", "acme 1"),
        ("acme", "acme 2"),
        ("globex", "globex 0"),
    ]
    assert all(isinstance(note, Note) and note._state.db == "default" for _, note in rows)


def test_count_per_tenant_with_different_row_counts(tenants):
    counts = across_tenants(Note.objects.all()).count()
    assert {t.schema_name: n for t, n in counts.items()} == {"acme": 3, "globex": 1, "initech": 0}
    everyone = across_tenants(Note.objects.all(), Tenant.objects.all()).count()
    assert {t.schema_name: n for t, n in everyone.items()} == ROWS
    filtered = across_tenants(Note.objects.filter(title__endswith=" 0")).count()
    assert {t.schema_name: n for t, n in filtered.items()} == {"acme": 1, "globex": 1, "initech": 0}


def test_aggregates_per_tenant_with_their_converters(tenants):
    result = across_tenants(Product.objects.all()).aggregate(Sum("price"), top=Max("price"))
    assert {t.schema_name: v for t, v in result.items()} == {
        "acme": {"price__sum": Decimal("6.00"), "top": Decimal("3.00")},
        "globex": {"price__sum": Decimal("1.00"), "top": Decimal("1.00")},
        "initech": {"price__sum": None, "top": None},
    }


def test_values_values_list_and_flat(tenants):
    query = Note.objects.filter(title__endswith="0")
    assert names(across_tenants(query.values("title"))) == [
        ("acme", {"title": "acme 0"}),
        ("globex", {"title": "globex 0"}),
    ]
    assert names(across_tenants(query.values_list("title", "id"))) == [
        ("acme", ("acme 0", 1)),
        ("globex", ("globex 0", 1)),
    ]
    assert names(across_tenants(query.values_list("title", flat=True))) == [
        ("acme", "acme 0"),
        ("globex", "globex 0"),
    ]
    named = [row.title for _, row in across_tenants(query.values_list("title", named=True))]
    assert named == ["acme 0", "globex 0"]


def test_one_statement_per_batch_compiled_once(tenants):
    chosen = [tenants[name] for name in ("acme", "globex", "initech", "umbrella")]
    with CaptureQueriesContext(connection) as queries:
        across_tenants(Note.objects.all(), chosen).count()
    # One catalog query (which tenants have the tables), one UNION ALL for four tenants.
    assert len(queries.captured_queries) == 2
    union = queries.captured_queries[1]["sql"]
    assert union.count("UNION ALL") == 3
    for name in ROWS:
        assert f'FROM "{name}"."notes_note"' in union
    assert "q.*" not in union  # a count numbers its rows in its own select list
    with CaptureQueriesContext(connection) as queries:
        counts = across_tenants(Note.objects.all(), chosen, batch_size=3).count()
    assert len(queries.captured_queries) == 3
    assert {t.schema_name: n for t, n in counts.items()} == ROWS
    with CaptureQueriesContext(connection) as queries:
        assert len(list(across_tenants(Note.objects.all(), chosen, batch_size=2))) == 6
    assert len(queries.captured_queries) == 3


def test_joins_subqueries_and_sliced_counts_stay_in_each_tenant(tenants):
    with tenant_context(tenants["globex"]):  # globex alone has a 'sale' category
        sale = Category.objects.create(name="Sale", slug="sale")
        Product.objects.filter(sku="globex-0").update(category=sale)
    in_sale = Product.objects.filter(category__in=Category.objects.filter(slug="sale"))
    assert [(s, p.sku) for s, p in names(across_tenants(in_sale))] == [("globex", "globex-0")]
    with_exists = Product.objects.filter(
        Exists(Category.objects.filter(pk=OuterRef("category_id"), slug="general"))
    )
    assert {t.schema_name: n for t, n in across_tenants(with_exists).count().items()} == {
        "acme": 3,
        "globex": 0,
        "initech": 0,
    }
    joined = across_tenants(Product.objects.select_related("category").order_by("sku"))
    assert [(s, p.category.slug) for s, p in names(joined)] == [
        ("acme", "general"),
        ("acme", "general"),
        ("acme", "general"),
        ("globex", "sale"),
    ]
    sliced = across_tenants(Note.objects.order_by("-id")[:2]).count()
    assert {t.schema_name: n for t, n in sliced.items()} == {"acme": 2, "globex": 1, "initech": 0}
    by_title = across_tenants(Note.objects.values("title").distinct()).count()
    assert {t.schema_name: n for t, n in by_title.items()} == {"acme": 3, "globex": 1, "initech": 0}
    both = Note.objects.filter(id=1).union(Note.objects.filter(id=3))
    assert sorted(names(across_tenants(both.values_list("title", flat=True)))) == [
        ("acme", "acme 0"),
        ("acme", "acme 2"),
        ("globex", "globex 0"),
    ]


def test_models_of_apps_in_both_lists_are_read_from_the_tenants_never_public(tenants):
    user_model = get_user_model()
    with public_context():
        user_model.objects.create_user("operator")
    with tenant_context(tenants["acme"]):
        user_model.objects.create_user("acme-boss")
    users = names(across_tenants(user_model.objects.values_list("username", flat=True)))
    assert users == [("acme", "acme-boss")]


def test_tenants_without_the_tables_are_skipped_not_failed(tenants):
    drop_schema("globex")
    with tenant_context(tenants["initech"]), connection.cursor() as cursor:
        cursor.execute("DROP TABLE notes_note")
    rows = across_tenants(Note.objects.all())
    assert {t.schema_name: n for t, n in rows.count().items()} == {"acme": 3}
    assert [t.schema_name for t in rows.skipped] == ["globex", "initech"]
    assert [schema for schema, _ in names(rows)] == ["acme"] * 3
    # A query of another table still reaches initech.
    products = across_tenants(Product.objects.all()).count()
    assert {t.schema_name: n for t, n in products.items()} == {"acme": 3, "initech": 0}


def test_an_empty_filter_runs_no_union(tenants):
    with CaptureQueriesContext(connection) as queries:
        counts = across_tenants(Note.objects.filter(pk__in=[])).count()
        assert list(across_tenants(Note.objects.none())) == []
    assert {t.schema_name: n for t, n in counts.items()} == {"acme": 0, "globex": 0, "initech": 0}
    assert len(queries.captured_queries) == 2  # the registry, twice


def test_the_callers_context_holds_between_rows(tenants):
    seen = []
    with tenant_context(tenants["initech"]):
        for _, _note in across_tenants(Note.objects.all(), batch_size=1):
            seen.append(get_current_schema())
            seen.append(Note.objects.count())  # the caller's own tenant, between rows
    assert seen == ["initech", 0] * 4


def test_what_cannot_run_across_tenants_is_refused(tenants):
    with pytest.raises(ValueError, match="not a model of a tenant app"):
        across_tenants(Tenant.objects.all())
    with pytest.raises(ValueError, match="prefetch_related"):
        across_tenants(Product.objects.prefetch_related("category"))
    with pytest.raises(ValueError, match="extra"):
        across_tenants(Note.objects.extra(tables=["notes_note"]))
    with pytest.raises(ValueError, match="select_for_update"):
        across_tenants(Note.objects.select_for_update())
    bad = Tenant(schema_name="Robert'); DROP SCHEMA public;--", name="x")
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidSchemaName):
        across_tenants(Note.objects.all(), [bad])
    assert queries.captured_queries == []


def test_grouped_and_ordered_querysets_keep_their_meaning(tenants):
    # GROUP BY and ORDER BY by position ("GROUP BY 1"): the branch wraps the query.
    grouped = Note.objects.values("title").annotate(n=Count("id")).order_by("-title")
    rows = names(across_tenants(grouped.filter(title__endswith="1")))
    assert rows == [("acme", {"title": "acme 1", "n": 1})]
    per_category = Product.objects.values("category__slug").annotate(total=Sum("price"))
    assert names(across_tenants(per_category.order_by("category__slug"))) == [
        ("acme", {"category__slug": "general", "total": Decimal("6.00")}),
        ("globex", {"category__slug": "general", "total": Decimal("1.00")}),
    ]
    newest = names(across_tenants(Note.objects.order_by("-id").values_list("title", flat=True)))
    assert newest == [
        ("acme", "acme 2"),
        ("acme", "acme 1"),
        ("acme", "acme 0"),
        ("globex", "globex 0"),
    ]
