"""tenancy_app.signals: lifecycle signals after commit, schema_migrated per schema, the
request hook inside the tenant's context."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.dispatch import Signal
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenancy_app import delete_tenant, get_current_schema, provision_tenant
from tenancy_app.exceptions import ProvisioningError
from tenancy_app.middleware import TenantMiddleware
from tenancy_app.migrator import Outcome, migrate_schemas
from tenancy_app.migrator.engine import MigrationRun
from tenancy_app.models import Tenant, TenantStatus
from tenancy_app.provisioning import clone_tenant, rename_tenant
from tenancy_app.signals import (
    schema_migrated,
    tenant_activated,
    tenant_deleted,
    tenant_provisioned,
    tenant_renamed,
    tenant_status_changed,
)


class Heard:
    """Records every sending of a signal: (kwargs, the schema active in the receiver)."""

    def __init__(self, signal: Signal) -> None:
        self.signal = signal
        self.calls: list[dict[str, Any]] = []

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal")
        self.calls.append({"sender": sender, "schema": get_current_schema(), **kwargs})


@pytest.fixture
def listen() -> Iterator[Any]:
    connected: list[Heard] = []

    def listen(signal: Signal) -> Heard:
        heard = Heard(signal)
        signal.connect(heard, weak=False)
        connected.append(heard)
        return heard

    yield listen
    for heard in connected:
        heard.signal.disconnect(heard)


def test_tenant_provisioned_is_sent_after_commit_only(
    db, listen, django_capture_on_commit_callbacks
):
    heard = listen(tenant_provisioned)
    with django_capture_on_commit_callbacks() as callbacks:
        acme = provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
        assert heard.calls == []  # not before the commit
    for callback in callbacks:
        callback()
    assert heard.calls == [
        {
            "sender": Tenant,
            "schema": "public",
            "tenant": acme,
            "using": "default",
            "method": "template",
        }
    ]


def test_a_failed_provisioning_sends_nothing(db, listen, django_capture_on_commit_callbacks):
    from django.db.models.signals import post_migrate

    def explode(sender, **kwargs):
        raise RuntimeError("post-migrate handler broke")

    heard = listen(tenant_provisioned)
    post_migrate.connect(explode, dispatch_uid="explode")
    try:
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(ProvisioningError):
            provision_tenant(schema_name="acme", name="Acme", method="migrate")
    finally:
        post_migrate.disconnect(dispatch_uid="explode")
    assert heard.calls == []


def test_clone_rename_and_delete_are_announced(
    db, listen, make_tenant, django_capture_on_commit_callbacks
):
    provisioned, renamed, deleted = (
        listen(tenant_provisioned),
        listen(tenant_renamed),
        listen(tenant_deleted),
    )
    acme = make_tenant("acme")
    with django_capture_on_commit_callbacks(execute=True):
        copy = clone_tenant(acme, schema_name="acme_copy", name="Copy")
        rename_tenant(copy, "acme_two")
        delete_tenant(copy)
        delete_tenant(acme, drop=False)
    assert [call["method"] for call in provisioned.calls] == ["clone"]
    assert [(c["old_schema_name"], c["new_schema_name"]) for c in renamed.calls] == [
        ("acme_copy", "acme_two")
    ]
    assert renamed.calls[0]["tenant"].schema_name == "acme_two"
    assert [(c["schema_name"], c["dropped"], c["tenant"].pk) for c in deleted.calls] == [
        ("acme_two", True, None),
        ("acme", False, None),
    ]
    from tenancy_app.schemas import drop_schema

    drop_schema("acme")


def test_status_changes_are_sent_on_commit_from_save(
    db, listen, make_tenant, django_capture_on_commit_callbacks
):
    heard = listen(tenant_status_changed)
    with django_capture_on_commit_callbacks(execute=True):
        acme = make_tenant("acme")  # provisioning -> active is the provisioning itself
    assert heard.calls == []
    with django_capture_on_commit_callbacks() as callbacks:
        acme.status = TenantStatus.SUSPENDED
        acme.save()
        assert heard.calls == []
    for callback in callbacks:
        callback()
    assert [(c["tenant"].pk, c["old_status"], c["new_status"]) for c in heard.calls] == [
        (acme.pk, "active", "suspended")
    ]
    with django_capture_on_commit_callbacks(execute=True):
        acme.save()  # no change
        acme.name = "Acme Corp"
        acme.save(update_fields=["name"])
    assert len(heard.calls) == 1


def test_status_tracking_costs_nothing_without_listeners(db, make_tenant):
    acme = make_tenant("acme")
    acme.status = TenantStatus.SUSPENDED
    with CaptureQueriesContext(connection) as queries:
        acme.save(update_fields=["status"])
    assert len(queries) == 1  # the UPDATE alone: the stored status is read only for listeners


def test_admin_bulk_status_actions_announce_each_tenant(
    db, listen, make_tenant, django_capture_on_commit_callbacks, monkeypatch
):
    from django.contrib.admin.sites import site

    heard = listen(tenant_status_changed)
    acme, globex = make_tenant("acme"), make_tenant("globex")
    admin = site._registry[Tenant]
    monkeypatch.setattr(admin, "message_user", lambda *args, **kwargs: None)
    with django_capture_on_commit_callbacks(execute=True):
        admin.suspend_tenants(None, Tenant.objects.filter(pk__in=[acme.pk, globex.pk]))
    assert sorted(
        (c["tenant"].schema_name, c["old_status"], c["new_status"]) for c in heard.calls
    ) == [
        ("acme", "active", "suspended"),
        ("globex", "active", "suspended"),
    ]


def test_a_failing_receiver_is_logged_and_changes_nothing(
    db, listen, caplog, django_capture_on_commit_callbacks
):
    def broken(sender, **kwargs):
        raise RuntimeError("receiver broke")

    tenant_provisioned.connect(broken)
    heard = listen(tenant_provisioned)
    try:
        with (
            caplog.at_level(logging.ERROR, "tenancy_app.signals"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            acme = provision_tenant(schema_name="acme", name="Acme")
    finally:
        tenant_provisioned.disconnect(broken)
    assert Tenant.objects.get(pk=acme.pk).is_active
    assert len(heard.calls) == 1  # the other receiver still ran
    assert "receiver broke" in caplog.text


def test_schema_migrated_once_per_schema_with_its_result(db, listen, make_tenant):
    heard = listen(schema_migrated)
    make_tenant("acme"), make_tenant("globex")

    def broken(sender, **kwargs):
        raise RuntimeError("receiver broke")

    schema_migrated.connect(broken)
    try:
        results = migrate_schemas(["acme", "globex", "missing"], jobs=1)
    finally:
        schema_migrated.disconnect(broken)
    assert [(c["schema_name"], c["result"].outcome) for c in heard.calls] == [
        ("acme", Outcome.SKIPPED),
        ("globex", Outcome.SKIPPED),
        ("missing", Outcome.FAILED),
    ]
    assert [c["result"] for c in heard.calls] == results
    assert {c["sender"] for c in heard.calls} == {MigrationRun}


def test_request_hook_runs_inside_the_tenant(db, listen, make_tenant):
    heard = listen(tenant_activated)
    acme = make_tenant("acme")
    Client(HTTP_HOST="acme.test").get("/notes/")
    Client(HTTP_HOST="public.test").get("/")
    assert [(c["sender"], c["tenant"], c["schema"]) for c in heard.calls] == [
        (TenantMiddleware, acme, "acme"),
        (TenantMiddleware, None, "public"),
    ]
    assert heard.calls[0]["request"].path == "/notes/"


def test_request_hook_under_asgi(listen, make_committed_tenant):
    from asgiref.sync import async_to_sync
    from django.test import AsyncRequestFactory

    from tests.urls import async_notes

    heard = listen(tenant_activated)
    acme = make_committed_tenant("acme")
    middleware = TenantMiddleware(async_notes)

    async def get():
        request = AsyncRequestFactory().get("/async-notes/")
        request.META["HTTP_HOST"] = "acme.test"
        return await middleware(request)

    assert async_to_sync(get)().status_code == 200
    assert [(c["tenant"].pk, c["schema"]) for c in heard.calls] == [(acme.pk, "acme")]
