"""Tenant-aware keys in a real Redis, and clearing one tenant's entries.

Both Redis backends users have: Django's own RedisCache and django-redis.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from tenancy_app import public_context, schema_context
from tenancy_app.cache import clear_tenant_cache, make_key, reverse_key
from tenancy_app.exceptions import InvalidSchemaName

BACKENDS = {
    "django": "django.core.cache.backends.redis.RedisCache",
    "django-redis": "django_redis.cache.RedisCache",
}
_databases = itertools.count(1)


@pytest.fixture(params=sorted(BACKENDS))
def redis_cache(request, redis_url) -> Iterator[str]:
    pytest.importorskip("redis")
    if request.param == "django-redis":
        pytest.importorskip("django_redis")
    config = {
        "BACKEND": BACKENDS[request.param],
        "LOCATION": f"{redis_url}/{next(_databases)}",
        "KEY_PREFIX": "site*[1]",  # glob characters must not widen the match
        "KEY_FUNCTION": "tenancy_app.cache.make_key",
        **(
            {"REVERSE_KEY_FUNCTION": "tenancy_app.cache.reverse_key"}
            if request.param == "django-redis"
            else {}
        ),
    }
    with override_settings(CACHES={"default": config, "other": {**config, "KEY_PREFIX": "other"}}):
        yield request.param
        caches["default"].clear()


def fill(schema: str, count: int) -> None:
    cache = caches["default"]
    with schema_context(schema) if schema != "public" else public_context():
        cache.set("shared-name", schema)
        cache.set("v2", schema, version=2)
        cache.set_many({f"k{i}": i for i in range(count)})


def test_tenants_never_collide_and_clearing_one_keeps_the_others(redis_cache):
    for schema in ("acme", "acme_two", "globex", "public"):
        fill(schema, 1200)  # more than one SCAN page and one UNLINK batch
    with public_context():
        caches["other"].set("k1", "other prefix")
    cache = caches["default"]
    for schema in ("acme", "acme_two", "globex"):
        with schema_context(schema):
            assert cache.get("shared-name") == schema

    assert clear_tenant_cache("acme") == 1202
    with schema_context("acme"):
        assert cache.get("shared-name") is None
        assert cache.get("v2", version=2) is None
        assert cache.get("k7") is None
    for schema in ("acme_two", "globex"):  # acme_two starts with "acme": still kept
        with schema_context(schema):
            assert cache.get("shared-name") == schema
            assert cache.get("k1199") == 1199
    with public_context():
        assert cache.get("shared-name") == "public"
        assert caches["other"].get("k1") == "other prefix"
    assert clear_tenant_cache("acme") == 0


def test_clear_takes_a_tenant_instance(redis_cache, make_tenant):
    acme = make_tenant("acme")
    fill("acme", 3)
    assert clear_tenant_cache(acme, alias="default") == 5


@pytest.mark.parametrize("redis_cache", ["django-redis"], indirect=True)
def test_reverse_key_for_django_redis(redis_cache):  # REVERSE_KEY_FUNCTION is its option
    cache = caches["default"]
    with schema_context("acme"):
        cache.set("a:b", 1)
        cache.set("c", 2)
        assert sorted(cache.keys("*")) == ["a:b", "c"]
    with schema_context("globex"):
        assert cache.keys("*") == []


def test_reverse_key_is_the_inverse_of_make_key():
    with schema_context("acme"):
        assert reverse_key(make_key("user:1:profile", "site", 3)) == "user:1:profile"


def test_bad_names_and_caches_are_refused(redis_cache):
    with pytest.raises(InvalidSchemaName):
        clear_tenant_cache("*")
    plain = {"BACKEND": BACKENDS["django"], "LOCATION": "redis://127.0.0.1:1"}
    with (
        override_settings(CACHES={"default": plain}),
        pytest.raises(ImproperlyConfigured, match="KEY_FUNCTION"),
    ):
        clear_tenant_cache("acme")
    locmem = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "KEY_FUNCTION": "tenancy_app.cache.make_key",
    }
    with (
        override_settings(CACHES={"default": locmem}),
        pytest.raises(ImproperlyConfigured, match="not a Redis cache"),
    ):
        clear_tenant_cache("acme")
