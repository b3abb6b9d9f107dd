"""The tenant lookup cache: bounded, invalidated on saves, shared invalidation across processes."""

from __future__ import annotations

from django.test.utils import override_settings

from tenancy_app.lookup import TenantLookupCache, lookup_cache, tenant_for_domain


def test_lookups_are_cached_including_misses(make_tenant, django_assert_num_queries):
    make_tenant("acme")
    with django_assert_num_queries(2):
        assert tenant_for_domain("acme.test").schema_name == "acme"
        assert tenant_for_domain("nobody.test") is None
    with django_assert_num_queries(0):
        assert tenant_for_domain("acme.test").schema_name == "acme"
        assert tenant_for_domain("nobody.test") is None


def test_cached_tenants_are_copies(make_tenant):
    make_tenant("acme")
    first = tenant_for_domain("acme.test")
    first.name = "changed by a view"
    assert tenant_for_domain("acme.test").name == "Acme"


def test_size_is_bounded(make_tenant, settings):
    settings.TENANCY = {**settings.TENANCY, "LOOKUP_CACHE_SIZE": 2}
    for host in ("a.test", "b.test", "c.test"):
        tenant_for_domain(host)
    assert len(lookup_cache) == 2


def test_a_load_that_spans_a_clear_is_not_stored(db):
    cache = TenantLookupCache()

    def load_then_clear():
        cache.clear()  # a save elsewhere while this (now stale) load was running
        return None

    cache.get_or_load(("domain", "x.test"), load_then_clear)
    loads = []
    cache.get_or_load(("domain", "x.test"), lambda: loads.append(1))
    assert loads == [1]


def test_shared_cache_alias_clears_every_process(db, tmp_path, make_tenant):
    """Two caches standing for two processes, sharing only a file-based Django cache."""
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "tenancy_app.cache.make_key",
        },
        "shared": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
            "KEY_FUNCTION": "tenancy_app.cache.make_key",
        },
    }
    from django.conf import settings

    with override_settings(
        CACHES=caches, TENANCY={**settings.TENANCY, "LOOKUP_CACHE_ALIAS": "shared"}
    ):
        web, worker = TenantLookupCache(), TenantLookupCache()
        loads: list[str] = []

        def load():
            loads.append("load")
            return None

        web.get_or_load(("domain", "acme.test"), load)
        web.get_or_load(("domain", "acme.test"), load)
        assert loads == ["load"]
        worker.clear()  # e.g. a tenant suspended from a management command
        web.get_or_load(("domain", "acme.test"), load)
        assert loads == ["load", "load"]
        web.get_or_load(("domain", "acme.test"), load)
        assert loads == ["load", "load"]


def test_saving_a_tenant_clears_other_processes_through_the_shared_cache(tmp_path, make_tenant):
    from django.conf import settings

    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "tenancy_app.cache.make_key",
        },
        "shared": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
    }
    with override_settings(
        CACHES=caches, TENANCY={**settings.TENANCY, "LOOKUP_CACHE_ALIAS": "shared"}
    ):
        other_process = TenantLookupCache()
        acme = make_tenant("acme")
        other_process.get_or_load(("domain", "acme.test"), lambda: acme)
        acme.name = "Renamed"
        acme.save()  # the signal clears this process and bumps the shared generation
        assert other_process.get_or_load(("domain", "acme.test"), lambda: None) is None
