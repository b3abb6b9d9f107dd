"""Content types are cached per schema: one schema's ids never answer for another's."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from tenancy_app import public_context, tenant_context
from tests.notes.models import Note


def test_each_schema_gets_its_own_content_type_ids(make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    with tenant_context(globex):
        # Give Note another id in globex only (as a schema migrated in another order would).
        ContentType.objects.filter(app_label="notes", model="note").delete()
        ContentType.objects.clear_cache()
        globex_id = ContentType.objects.get_for_model(Note).id
    with tenant_context(acme):
        acme_id = ContentType.objects.get_for_model(Note).id
        assert ContentType.objects.get(app_label="notes", model="note").id == acme_id
    assert acme_id != globex_id
    with tenant_context(globex):
        assert ContentType.objects.get_for_model(Note).id == globex_id
        assert ContentType.objects.get_for_id(globex_id).model == "note"
    with tenant_context(acme):
        assert ContentType.objects.get_for_model(Note).id == acme_id


def test_cached_lookups_cost_no_query_within_a_schema(make_tenant, django_assert_num_queries):
    acme = make_tenant("acme")
    with tenant_context(acme):
        ContentType.objects.get_for_model(Note)
        with django_assert_num_queries(0):
            ContentType.objects.get_for_model(Note)
    with public_context(), django_assert_num_queries(1):
        ContentType.objects.get_for_model(ContentType)


def test_the_per_schema_cache_survives_a_registry_cache_clear():
    from django.apps import apps

    from tenancy_app.contenttypes import SchemaKeyedCache

    apps.clear_cache()  # as registering a model after start-up does
    assert isinstance(ContentType.objects._cache, SchemaKeyedCache)
