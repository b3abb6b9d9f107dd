"""The request path: resolvers, middleware (sync and async), lookup cache, statement counts."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from tenancy_app import tenant_context
from tenancy_app.models import TenantStatus
from tenancy_app.testing import count_round_trips
from tests.notes.models import Note

HEADER = ["tenancy_app.resolvers.HeaderResolver", "tenancy_app.resolvers.DomainResolver"]
SUBFOLDER = ["tenancy_app.resolvers.SubfolderResolver", "tenancy_app.resolvers.DomainResolver"]


def tenancy(**changes):
    from django.conf import settings

    return override_settings(TENANCY={**settings.TENANCY, **changes})


@pytest.fixture
def acme_globex(make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    with tenant_context(acme):
        Note.objects.create(title="acme note")
    with tenant_context(globex):
        Note.objects.bulk_create([Note(title="globex 1"), Note(title="globex 2")])
    return acme, globex


def test_domain_routes_each_host_to_its_tenant(acme_globex, client: Client):
    acme = client.get("/notes/", HTTP_HOST="acme.test").json()
    globex = client.get("/notes/", HTTP_HOST="globex.test:8000").json()
    assert acme == {"schema": "acme", "tenant": "acme", "titles": ["acme note"], "self": "/notes/"}
    assert globex["titles"] == ["globex 1", "globex 2"]
    assert client.get("/notes/", HTTP_HOST="ACME.test").json()["tenant"] == "acme"


def test_unknown_host_is_404_and_never_public(acme_globex, client: Client):
    response = client.get("/notes/", HTTP_HOST="nobody.test")
    assert response.status_code == 404
    assert b"No tenant is served" in response.content
    assert client.get("/", HTTP_HOST="nobody.test").status_code == 404


def test_public_domain_uses_the_public_urlconf(acme_globex, client: Client):
    response = client.get("/", HTTP_HOST="public.test")
    assert response.json() == {"public": True, "schema": "public"}
    assert client.get("/notes/", HTTP_HOST="public.test").status_code == 404


def test_suspended_tenant_gets_503(acme_globex, client: Client):
    acme, _ = acme_globex
    acme.status = TenantStatus.SUSPENDED
    acme.save()
    response = client.get("/notes/", HTTP_HOST="acme.test")
    assert response.status_code == 503
    assert response["Retry-After"]


def test_configurable_not_found_view(acme_globex, client: Client):
    with tenancy(NOT_FOUND_VIEW="tests.views.custom_not_found"):
        response = client.get("/", HTTP_HOST="nobody.test")
    assert response.status_code == 404
    assert response.content == b"custom: No tenant is served at this host."


def test_cached_tenant_on_the_same_schema_sends_nothing_extra(acme_globex, client: Client):
    client.get("/notes/", HTTP_HOST="globex.test")  # warms the lookup cache
    client.get("/notes/", HTTP_HOST="acme.test")  # ... and leaves acme on the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/notes/", HTTP_HOST="acme.test")
    assert response.json()["titles"] == ["acme note"]
    assert len(queries) == 1, queries.captured_queries  # the view's own query only
    with CaptureQueriesContext(connection) as queries, count_round_trips(connection) as trips:
        client.get("/notes/", HTTP_HOST="globex.test")
    assert len(queries) == 1  # Django's query log has the view's query only...
    assert trips.count == 1  # ...and the switch's SET travelled with it
    assert sum(sql.count("SET search_path") for sql in trips.sql) == 1


def test_lookup_cache_is_invalidated_by_saves(acme_globex, client: Client):
    acme, _ = acme_globex
    assert client.get("/notes/", HTTP_HOST="acme.test").status_code == 200
    domain = acme.domains.get()
    domain.domain = "acme.example"
    domain.save()
    assert client.get("/notes/", HTTP_HOST="acme.test").status_code == 404
    assert client.get("/notes/", HTTP_HOST="acme.example").status_code == 200


def test_header_resolver(acme_globex, client: Client):
    with tenancy(RESOLVERS=HEADER):
        by_header = client.get("/notes/", HTTP_HOST="public.test", HTTP_X_TENANT_ID="globex")
        assert by_header.json()["tenant"] == "globex"
        assert client.get("/notes/", HTTP_HOST="acme.test").json()["tenant"] == "acme"
        assert client.get("/notes/", HTTP_X_TENANT_ID="ghost").status_code == 404


@pytest.mark.parametrize(
    "value",
    ["Robert'); DROP SCHEMA public;--", "pg_catalog", "public", "A" * 64, "acme,public", ""],
)
def test_bad_header_values_are_404_before_any_sql(acme_globex, client: Client, value: str):
    with tenancy(RESOLVERS=HEADER), CaptureQueriesContext(connection) as queries:
        response = client.get("/notes/", HTTP_HOST="public.test", HTTP_X_TENANT_ID=value)
    assert response.status_code == 404
    assert queries.captured_queries == []


def test_subfolder_resolver_strips_and_restores_the_prefix(acme_globex, client: Client):
    with tenancy(RESOLVERS=SUBFOLDER):
        body = client.get("/t/globex/notes/", HTTP_HOST="public.test").json()
        assert body["tenant"] == "globex"
        assert body["self"] == "/t/globex/notes/"
        assert body["titles"] == ["globex 1", "globex 2"]
        assert client.get("/", HTTP_HOST="public.test").json()["public"] is True
        assert client.get("/t/ghost/notes/", HTTP_HOST="public.test").status_code == 404
        assert client.get("/t/Bad-Name/notes/", HTTP_HOST="public.test").status_code == 404
        assert client.get("/notes/", HTTP_HOST="acme.test").json()["self"] == "/notes/"


def test_request_tenant_is_always_set(acme_globex, rf):
    from tenancy_app.middleware import TenantMiddleware

    seen = {}

    def view(request):
        seen["tenant"] = request.tenant
        from django.http import HttpResponse

        return HttpResponse()

    TenantMiddleware(view)(rf.get("/", HTTP_HOST="public.test"))
    assert seen["tenant"] is None
    TenantMiddleware(view)(rf.get("/", HTTP_HOST="acme.test"))
    assert seen["tenant"].schema_name == "acme"


def test_a_view_changing_request_tenant_changes_no_other_request(acme_globex, rf):
    """The lookup cache shares one instance per tenant; each request gets a copy of it."""
    from django import forms
    from django.http import HttpResponse

    from tenancy_app import get_current_tenant
    from tenancy_app.middleware import TenantMiddleware
    from tenancy_app.models import get_tenant_model

    class TenantForm(forms.ModelForm):
        class Meta:
            model = get_tenant_model()
            fields = ["name", "status"]

    seen = []

    def view(request):
        assert get_current_tenant() is request.tenant
        seen.append((request.tenant, request.tenant.name, dict(request.tenant._state.fields_cache)))
        # A settings page whose form fails validation: the valid field is written to the
        # instance all the same (ModelForm._post_clean), and nothing is saved.
        form = TenantForm({"name": "Acme (draft)", "status": "bogus"}, instance=request.tenant)
        assert not form.is_valid()
        request.tenant._state.fields_cache["anything"] = "cached by this request"
        return HttpResponse()

    middleware = TenantMiddleware(view)
    for _ in range(2):
        middleware(rf.get("/", HTTP_HOST="acme.test"))
    (first, _, _), (second, name, fields_cache) = seen
    assert first is not second
    assert first.name == "Acme (draft)"  # the first request changed its own copy...
    assert (name, fields_cache) == ("Acme", {})  # ... and nothing the next one got


def test_what_depends_only_on_the_tenant_is_computed_once_per_cached_tenant(
    acme_globex, client: Client, monkeypatch
):
    """The schema name validated, the search_path, the lease, whether it may be served
    and with which URLconf: once, when the lookup loads the tenant; a cached request
    only copies the tenant."""
    from collections import Counter

    from tenancy_app import context, lookup

    calls: Counter[str] = Counter()

    def counting(module, name):
        real = getattr(module, name)

        def counted(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    for name in ("validate_schema_name", "_search_path_for", "lease_for"):
        counting(context, name)
    for name in ("is_configured", "tenant_urlconf"):
        counting(lookup, name)
    for _ in range(3):
        assert client.get("/notes/", HTTP_HOST="acme.test").json()["tenant"] == "acme"
    assert calls == {
        "validate_schema_name": 1,
        "_search_path_for": 1,
        "lease_for": 1,
        "is_configured": 1,
        "tenant_urlconf": 1,
    }


def test_the_search_path_prepared_per_tenant_follows_the_settings(acme_globex, rf):
    from django.http import HttpResponse

    from tenancy_app.context import get_search_path
    from tenancy_app.middleware import TenantMiddleware

    seen = []

    def view(request):
        seen.append(get_search_path())
        return HttpResponse()

    middleware = TenantMiddleware(view)
    middleware(rf.get("/", HTTP_HOST="acme.test"))
    with tenancy(EXTRA_SEARCH_PATH=["extensions"]):
        middleware(rf.get("/", HTTP_HOST="acme.test"))
    middleware(rf.get("/", HTTP_HOST="acme.test"))
    assert seen == [
        ("acme", "public"),
        ("acme", "public", "extensions"),
        ("acme", "public"),
    ]


def test_hosts_are_checked_against_the_allowed_hosts_in_force(acme_globex, rf):
    """request_host() remembers what get_host() answered per Host header; a change of
    ALLOWED_HOSTS must not let a remembered host through."""
    from django.core.exceptions import DisallowedHost
    from django.http import HttpResponse

    from tenancy_app.middleware import TenantMiddleware

    middleware = TenantMiddleware(lambda request: HttpResponse(request.tenant.schema_name))
    assert middleware(rf.get("/", HTTP_HOST="acme.test")).content == b"acme"
    with override_settings(ALLOWED_HOSTS=["globex.test"]):
        for _ in range(2):
            with pytest.raises(DisallowedHost):
                middleware(rf.get("/", HTTP_HOST="acme.test"))
        assert middleware(rf.get("/", HTTP_HOST="globex.test")).content == b"globex"
    assert middleware(rf.get("/", HTTP_HOST="acme.test")).content == b"acme"


@override_settings(USE_X_FORWARDED_HOST=True)
def test_x_forwarded_host_wins_over_a_remembered_host(acme_globex, rf):
    from django.http import HttpResponse

    from tenancy_app.middleware import TenantMiddleware

    middleware = TenantMiddleware(lambda request: HttpResponse(request.tenant.schema_name))
    assert middleware(rf.get("/", HTTP_HOST="acme.test")).content == b"acme"
    forwarded = rf.get("/", HTTP_HOST="acme.test", HTTP_X_FORWARDED_HOST="globex.test")
    assert middleware(forwarded).content == b"globex"


@pytest.mark.django_db(transaction=True)
def test_async_middleware_and_async_orm(make_committed_tenant):
    import asyncio

    from asgiref.sync import sync_to_async
    from django.test import AsyncRequestFactory

    from tenancy_app.middleware import TenantMiddleware
    from tests.urls import async_notes

    make_committed_tenant("acme")
    globex = make_committed_tenant("globex")
    with tenant_context(globex):
        Note.objects.create(title="g")

    async def view(request):
        return await async_notes(request)

    middleware = TenantMiddleware(view)
    assert asyncio.iscoroutinefunction(middleware)

    async def get(host):
        request = AsyncRequestFactory().get("/async-notes/")
        request.META["HTTP_HOST"] = host
        response = await middleware(request)
        return response.status_code, (
            json.loads(response.content) if response.status_code == 200 else None
        )

    async def main():
        results = await asyncio.gather(
            *[get(host) for host in ["acme.test", "globex.test"] * 4 + ["nobody.test"]]
        )
        await sync_to_async(lambda: connection.close())()
        return results

    results = asyncio.run(main())
    assert results[:2] == [
        (200, {"schema": "acme", "titles": []}),
        (200, {"schema": "globex", "titles": ["g"]}),
    ]
    assert results[2:8] == results[:2] * 3
    assert results[8] == (404, None)


@pytest.mark.django_db(transaction=True)
def test_async_cache_hit_resolves_on_the_event_loop_thread(make_committed_tenant):
    import asyncio
    import threading

    from django.http import HttpResponse
    from django.test import AsyncRequestFactory

    from tenancy_app.middleware import TenantMiddleware

    make_committed_tenant("acme")
    threads: list[tuple[int, bool]] = []

    class Recording(TenantMiddleware):
        def resolve(self, request):
            try:
                result = super().resolve(request)
            except Exception:
                threads.append((threading.get_ident(), False))
                raise
            threads.append((threading.get_ident(), True))
            return result

    async def view(request):
        return HttpResponse(request.tenant.schema_name)

    middleware = Recording(view)

    async def main():
        loop_thread = threading.get_ident()
        bodies = []
        for _ in range(2):
            request = AsyncRequestFactory().get("/")
            request.META["HTTP_HOST"] = "acme.test"
            bodies.append((await middleware(request)).content)
        from asgiref.sync import sync_to_async

        await sync_to_async(lambda: connection.close())()
        return loop_thread, bodies

    loop_thread, bodies = asyncio.run(main())
    assert bodies == [b"acme", b"acme"]
    # miss: refused on the loop thread, then done in a worker; hit: done on the loop thread
    assert threads[0] == (loop_thread, False)
    assert threads[1][0] != loop_thread and threads[1][1]
    assert threads[2] == (loop_thread, True)
