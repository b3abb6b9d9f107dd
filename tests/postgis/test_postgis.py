"""The tenancy backend over PostGIS (TENANCY["BASE_BACKEND"]) on Debian's PostgreSQL 15.

Runs under tests/settings_postgis.py in a process of its own, started by
tests/test_postgis.py against a PostgreSQL 15 server with PostGIS; the main run skips
this module.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

if settings.TENANCY.get("BASE_BACKEND") != "django.contrib.gis.db.backends.postgis":
    pytest.skip(
        "runs under tests.settings_postgis (tests/test_postgis.py)", allow_module_level=True
    )

from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISWrapper
from django.contrib.gis.db.backends.postgis.operations import PostGISOperations
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D

from tenancy_app import clone_tenant, provision_tenant, public_context, tenant_context
from tenancy_app.backends.postgresql.base import SearchPathCursorMixin
from tenancy_app.backends.postgresql.base_backend import SharedExtensions
from tenancy_app.testing import count_round_trips
from tests.places.models import Place

PARIS = Point(2.3522, 48.8566, srid=4326)


def one_column(query: str, params: list[Any] | None = None) -> list[Any]:
    with public_context(), connection.cursor() as cursor:
        cursor.execute(query, params)
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def acme_globex(make_tenant: Any) -> tuple[Any, Any]:
    acme = make_tenant("acme")  # copied from the template
    globex = provision_tenant(
        schema_name="globex", name="Globex", domain="globex.test", method="migrate"
    )
    with tenant_context(acme):
        Place.objects.create(name="acme paris", location=Point(2.35, 48.86, srid=4326))
        Place.objects.create(name="acme new york", location=Point(-74.0, 40.71, srid=4326))
    with tenant_context(globex):
        Place.objects.create(name="globex paris", location=Point(2.36, 48.85, srid=4326))
    return acme, globex


def test_the_backend_is_postgis_with_the_search_path_first(db: None) -> None:
    wrapper = connections["default"]
    assert isinstance(wrapper, PostGISWrapper) and isinstance(wrapper, SharedExtensions)
    assert isinstance(wrapper.ops, PostGISOperations)
    mro = type(wrapper).__mro__
    tenancy = next(cls for cls in mro if "search_path_plan" in vars(cls))
    assert mro.index(tenancy) < mro.index(PostGISWrapper)  # the search_path first
    assert isinstance(connection.cursor(), SearchPathCursorMixin)
    # Introspection: the current schema's tables only, with PostGIS's geometry knowledge.
    assert hasattr(connection.introspection, "get_geometry_type")
    with public_context(), connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert "tenancy_app_tenant" in tables and "places_place" not in tables
    # PostGIS's own tables are in public, and its introspection leaves them out.
    assert "spatial_ref_sys" not in tables
    assert "spatial_ref_sys" in one_column(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )


def test_spatial_types_live_once_in_the_shared_schema(acme_globex: Any) -> None:
    assert one_column(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'postgis'"
    ) == ["public"]
    assert set(
        one_column(
            "SELECT typnamespace::regnamespace::text FROM pg_type "
            "WHERE typname IN ('geometry', 'geography')"
        )
    ) == {"public"}
    for schema in ("acme", "globex", "tenancy_template"):
        # The tenant's column uses public.geometry, and its spatial index came along.
        assert one_column(
            "SELECT a.atttypid::regtype::text || ' ' || t.typnamespace::regnamespace::text "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = (quote_ident(%s) || '.places_place')::regclass "
            "AND a.attname = 'location'",
            [schema],
        ) == ["geometry public"]
        assert one_column(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'places_place' "
            "AND indexdef LIKE '%%USING gist%%'",
            [schema],
        ), schema
    with tenant_context(acme_globex[0]), connection.cursor() as cursor:
        # In a tenant, introspection sees the tenant's own tables, not PostGIS's.
        tables = connection.introspection.table_names(cursor)
        assert "places_place" in tables and "spatial_ref_sys" not in tables


def test_a_spatial_query_in_each_tenant_sees_its_own_rows(acme_globex: Any) -> None:
    acme, globex = acme_globex
    near = {"location__distance_lte": (PARIS, D(km=10))}
    with tenant_context(acme):
        assert [p.name for p in Place.objects.filter(**near)] == ["acme paris"]
        ordered = Place.objects.annotate(distance=Distance("location", PARIS)).order_by("distance")
        assert [p.name for p in ordered] == ["acme paris", "acme new york"]
    with tenant_context(globex):
        assert [p.name for p in Place.objects.filter(**near)] == ["globex paris"]
        assert Place.objects.count() == 1
    with public_context():
        assert "places_place" not in one_column(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )


def test_a_tenant_switch_costs_no_extra_round_trip(acme_globex: Any) -> None:
    acme, globex = acme_globex
    near = {"location__distance_lte": (PARIS, D(km=10))}
    with tenant_context(acme):
        assert Place.objects.filter(**near).count() == 1  # the session is at acme now
    with (
        CaptureQueriesContext(connection) as queries,
        count_round_trips(connection) as trips,
        tenant_context(globex),
    ):
        assert [p.name for p in Place.objects.filter(**near)] == ["globex paris"]
    assert trips.count == 1  # the SET rode with the statement
    sets = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SET search_path")]
    assert sets == ['SET search_path TO "globex", "public"']
    with (
        CaptureQueriesContext(connection) as queries,
        count_round_trips(connection) as trips,
        tenant_context(globex),
    ):
        assert Place.objects.filter(**near).count() == 1
    assert trips.count == 1
    assert not [q for q in queries.captured_queries if q["sql"].startswith("SET")]


def test_the_extension_is_prepared_in_the_shared_schema_from_any_tenant(acme_globex: Any) -> None:
    acme, _ = acme_globex
    with tenant_context(acme):
        assert Place.objects.count() == 2  # the session is at acme
        with CaptureQueriesContext(connection) as queries:
            connection.prepare_database()  # what migrate runs first, here in a tenant
    statements = [q["sql"] for q in queries.captured_queries]
    # CREATE EXTENSION (when needed) would create it in the first schema of the path.
    assert statements[0] == 'SET search_path TO "public"'
    assert "pg_extension" in statements[1]


def test_a_copied_tenant_keeps_its_places_and_their_index(acme_globex: Any) -> None:
    acme, _ = acme_globex
    copy = clone_tenant(acme, schema_name="acme_copy", name="Acme copy")
    with tenant_context(copy):
        near = Place.objects.filter(location__distance_lte=(PARIS, D(km=10)))
        assert [p.name for p in near] == ["acme paris"]
    assert one_column(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'acme_copy' "
        "AND tablename = 'places_place' AND indexdef LIKE '%%USING gist%%'"
    )
