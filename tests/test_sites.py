"""``django.contrib.sites`` in the tenant apps: each schema's site, never another's.

``Site.objects.get_current()`` caches sites for the life of the process, by ``SITE_ID``
or by host; every tenant schema has its own ``django_site`` table, so the cache is kept
per schema.
"""

from __future__ import annotations

from django.contrib.sites import models as sites_models
from django.contrib.sites.models import Site
from django.contrib.sites.shortcuts import get_current_site
from django.test import RequestFactory, override_settings

from tenancy_app import tenant_context
from tenancy_app.sites import SchemaKeyedSiteCache


def _rename_site(tenant, domain: str, name: str) -> None:
    with tenant_context(tenant):
        Site.objects.update_or_create(pk=1, defaults={"domain": domain, "name": name})


@override_settings(SITE_ID=1)
def test_site_id_gives_each_tenant_its_own_site(make_tenant, django_assert_num_queries):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    _rename_site(acme, "acme.example", "Acme")
    _rename_site(globex, "globex.example", "Globex")
    with tenant_context(acme):
        assert Site.objects.get_current().name == "Acme"
    with tenant_context(globex):
        assert Site.objects.get_current().name == "Globex"
    with tenant_context(acme), django_assert_num_queries(0):
        assert Site.objects.get_current().name == "Acme"  # from the cache, still its own


def test_one_host_for_every_tenant_gives_each_its_own_site(make_tenant):
    """Header or subfolder routing: all tenants share a host, SITE_CACHE keys by host."""
    acme, globex = make_tenant("acme"), make_tenant("globex")
    _rename_site(acme, "app.example", "Acme")
    _rename_site(globex, "app.example", "Globex")
    request = RequestFactory().get("/", HTTP_HOST="app.example")
    with override_settings(ALLOWED_HOSTS=["app.example"]):
        with tenant_context(acme):
            assert get_current_site(request).name == "Acme"
        with tenant_context(globex):
            assert get_current_site(request).name == "Globex"


@override_settings(SITE_ID=1)
def test_saving_a_site_and_clear_cache_drop_the_cached_entries(make_tenant):
    acme = make_tenant("acme")
    with tenant_context(acme):
        site = Site.objects.get_current()
        site.name = "Renamed"
        site.save()  # Django's pre_save handler drops the cached entry
        assert Site.objects.get_current().name == "Renamed"
        Site.objects.filter(pk=1).update(name="By update")
        Site.objects.clear_cache()
        assert Site.objects.get_current().name == "By update"
    assert isinstance(sites_models.SITE_CACHE, SchemaKeyedSiteCache)  # emptied, not replaced


def test_the_caches_stay_per_schema_after_the_app_registry_is_reset(make_tenant):
    """``override_settings(INSTALLED_APPS=...)`` (and anything else that resets the app
    registry) makes Django hand out fresh copies of every manager: they must still use
    the per-schema caches."""
    from django.conf import settings
    from django.contrib.contenttypes.models import ContentType

    from tenancy_app.contenttypes import SchemaKeyedCache

    with override_settings(INSTALLED_APPS=list(settings.INSTALLED_APPS)):
        pass
    assert isinstance(ContentType.objects._cache, SchemaKeyedCache)
    Site.objects.clear_cache()
    assert isinstance(sites_models.SITE_CACHE, SchemaKeyedSiteCache)
