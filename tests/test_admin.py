"""The registry admin: provisions on add, and is out of reach from a tenant's domain."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tenancy_app import public_context, tenant_context
from tenancy_app.models import Tenant, TenantStatus
from tenancy_app.schemas import schema_exists


@pytest.fixture
def public_admin(db) -> Client:
    with public_context():
        user = get_user_model().objects.create_superuser("root", "root@public.test", "pw")
    client = Client(HTTP_HOST="public.test")
    client.force_login(user)
    return client


def test_adding_a_tenant_in_the_admin_provisions_it(public_admin: Client):
    response = public_admin.post(
        "/admin/tenancy_app/tenant/add/",
        {
            "schema_name": "acme",
            "name": "Acme",
            "domains-TOTAL_FORMS": "1",
            "domains-INITIAL_FORMS": "0",
            "domains-0-domain": "acme.test",
            "domains-0-is_primary": "on",
        },
        HTTP_HOST="public.test",
    )
    assert response.status_code == 302, response.content[:2000]
    tenant = Tenant.objects.get(schema_name="acme")
    assert tenant.status == TenantStatus.ACTIVE
    assert list(tenant.domains.values_list("domain", flat=True)) == ["acme.test"]
    assert schema_exists("acme")


def test_bad_schema_name_in_the_admin_is_a_form_error(public_admin: Client):
    response = public_admin.post(
        "/admin/tenancy_app/tenant/add/",
        {
            "schema_name": "pg_evil",
            "name": "Evil",
            "domains-TOTAL_FORMS": "0",
            "domains-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert b"reserved" in response.content
    assert not Tenant.objects.exists()


def test_tenant_admin_does_not_expose_the_registry(make_tenant):
    acme = make_tenant("acme")
    make_tenant("globex")
    with tenant_context(acme):
        user = get_user_model().objects.create_superuser("boss", "boss@acme.test", "pw")
    client = Client(HTTP_HOST="acme.test")
    with tenant_context(acme):  # the session and last_login live in acme's schema
        client.force_login(user)
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"tenancy_app/tenant" not in index.content
    assert client.get("/admin/tenancy_app/tenant/").status_code == 403
