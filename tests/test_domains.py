"""Domains are checked in one place, the domain model, and kept in the form requests carry.

Lower case, IDNA (``xn--``), no trailing dot; refused with a reason: ports, schemes and
paths, spaces, quotes, ``;``, underscores, wildcards, bad labels, names IDNA cannot carry
or would change, and hosts of ``PUBLIC_DOMAINS``. Every face goes through it: the model
(``save`` and ``full_clean``), provisioning, ``create_tenant`` / ``clone_tenant`` and the
admin.
"""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenancy_app import provision_tenant, public_context
from tenancy_app.exceptions import InvalidHostName
from tenancy_app.hosts import normalize_host_name
from tenancy_app.models import Domain, Tenant, normalize_domain
from tenancy_app.schemas import list_schemas

NORMALISED = [
    ("acme.test", "acme.test"),
    ("ACME.Test", "acme.test"),
    ("acme.test.", "acme.test"),
    ("a-b.c1.example", "a-b.c1.example"),
    ("localhost", "localhost"),
    ("bücher.test", "xn--bcher-kva.test"),
    ("BÜCHER.test", "xn--bcher-kva.test"),
    ("xn--bcher-kva.test", "xn--bcher-kva.test"),
    ("b\u0075\u0308cher.test", "xn--bcher-kva.test"),  # decomposed ü
    ("127.0.0.1", "127.0.0.1"),
    ("a" * 63 + ".test", "a" * 63 + ".test"),
]

REFUSED = [
    ("acme.test:8000", "port"),
    ("[::1]", "port"),
    ("http://acme.test", "without scheme or path"),
    ("acme.test/shop", "without scheme or path"),
    ("'tr;t", "cannot hold"),
    (";", "cannot hold"),
    ("acme.test;drop", "cannot hold"),
    ('acme"test', "cannot hold"),
    ("ac_me.test", "underscores"),
    ("*.test", "wildcards"),
    ("acme .test", "character ' '"),
    (" acme.test", "character ' '"),
    ("acme.test\x00", "character '\\x00'"),
    ("acme\u200b.test", "character"),
    ("", "non-empty"),
    (".", "empty label"),
    ("a..test", "empty label"),
    (".acme.test", "empty label"),
    ("-acme.test", "hyphen"),
    ("acme-.test", "hyphen"),
    ("a" * 64 + ".test", "longer than 63"),
    (".".join(["a" * 60] * 5), "longer than 253"),
    ("straße.test", "IDNA would change"),
    ("xn--zz.test", "not a valid IDNA label"),
    ("acme.test,globex.test", "cannot hold"),
    ("user@acme.test", "cannot hold"),
    ("public.test", "PUBLIC_DOMAINS"),
    ("Public.Test.", "PUBLIC_DOMAINS"),
    ("testserver", "PUBLIC_DOMAINS"),
]


@pytest.mark.parametrize(("given", "stored"), NORMALISED)
def test_normal_form(given: str, stored: str) -> None:
    assert normalize_domain(given) == stored
    assert normalize_domain(stored) == stored


@pytest.mark.parametrize(("given", "reason"), REFUSED)
def test_refused_with_a_reason(given: str, reason: str) -> None:
    with pytest.raises(InvalidHostName) as info:
        normalize_domain(given)
    assert isinstance(info.value, ValidationError)
    message = info.value.messages[0]
    assert reason in message
    assert message.startswith(f"Invalid host name {given!r}")


def test_the_pure_rules_know_no_settings() -> None:
    assert normalize_host_name("public.test") == "public.test"


@pytest.mark.parametrize(("given", "reason"), REFUSED[:8])
def test_the_model_refuses_on_save_and_full_clean(make_tenant, given: str, reason: str) -> None:
    acme = make_tenant("acme")
    with pytest.raises(InvalidHostName, match=reason):
        Domain(tenant=acme, domain=given, is_primary=False).save()
    with pytest.raises(ValidationError) as info:
        Domain(tenant=acme, domain=given, is_primary=False).full_clean()
    assert list(info.value.message_dict) == ["domain"]
    assert list(acme.domains.values_list("domain", flat=True)) == ["acme.test"]


def test_the_model_keeps_the_normal_form(make_tenant) -> None:
    acme = make_tenant("acme")
    added = Domain.objects.create(tenant=acme, domain="WWW.Bücher.Test.", is_primary=False)
    assert added.domain == "www.xn--bcher-kva.test"
    cleaned = Domain(tenant=acme, domain="Shop.Acme.Test", is_primary=False)
    cleaned.full_clean()
    assert cleaned.domain == "shop.acme.test"
    with pytest.raises(ValidationError, match="already exists"):
        Domain(tenant=acme, domain="ACME.test", is_primary=False).full_clean()


def test_provisioning_normalises_and_refuses_before_any_sql(db) -> None:
    tenant = provision_tenant(schema_name="acme", name="Acme", domain="ACME.Test.")
    assert list(tenant.domains.values_list("domain", flat=True)) == ["acme.test"]
    assert Client(HTTP_HOST="acme.test").get("/notes/").json()["tenant"] == "acme"
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidHostName):
        provision_tenant(schema_name="globex", name="Globex", domain="globex.test:8000")
    assert len(queries) == 0


def _create(*args: str) -> str:
    out = io.StringIO()
    call_command("create_tenant", *args, "--noinput", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.parametrize(("given", "reason"), REFUSED)
def test_create_tenant_refuses_with_the_reason_and_changes_nothing(
    db, given: str, reason: str
) -> None:
    schemas = list_schemas()
    with pytest.raises(CommandError, match="Invalid host name") as info:
        _create("--schema", "acme", "--name", "Acme", f"--domain={given}")
    assert reason in str(info.value)
    assert "Traceback" not in str(info.value)
    assert list_schemas() == schemas
    with public_context():
        assert not Tenant.objects.exists()


def test_create_tenant_stores_and_prints_the_normal_form(db) -> None:
    out = _create("--schema", "acme", "--name", "Acme", "--domain", "Bücher.Test")
    assert "domain xn--bcher-kva.test" in out
    with public_context():
        assert Domain.objects.get().domain == "xn--bcher-kva.test"


def test_clone_tenant_goes_through_it_too(make_tenant) -> None:
    make_tenant("acme")
    with pytest.raises(CommandError, match="underscores"):
        call_command(
            "clone_tenant", "--from", "acme", "--schema", "acme2", "--domain", "ac_me.test",
            stdout=io.StringIO(),
        )  # fmt: skip
