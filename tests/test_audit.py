"""The audit trail: an entry per lifecycle operation, failures kept, rollbacks never succeeded."""

from __future__ import annotations

import datetime
import io
import os
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from tenancy_app import audit
from tenancy_app.context import public_context
from tenancy_app.exceptions import InvalidSchemaName, TenantAlreadyExists, TenantError
from tenancy_app.health import check_tenants, drop_orphan_schema, mark_missing_as_failed
from tenancy_app.models import AuditEntry, Tenant, TenantStatus
from tenancy_app.provisioning import (
    activate_tenant,
    clone_tenant,
    delete_tenant,
    provision_tenant,
    rename_tenant,
    suspend_tenant,
)
from tenancy_app.schemas import create_schema, drop_schema
from tests.audit_support import forget_committed_entries, own_connection
from tests.settings import TENANCY

pytestmark = pytest.mark.usefixtures(forget_committed_entries.__name__)


def entries(**filters: Any) -> list[AuditEntry]:
    with public_context():
        return list(AuditEntry.objects.filter(**filters).order_by("id"))


def summary(**filters: Any) -> list[tuple[str, str, str]]:
    return [(e.action, e.schema_name, e.outcome) for e in entries(**filters)]


OK, FAILED = AuditEntry.Outcome.SUCCEEDED, AuditEntry.Outcome.FAILED


def test_each_lifecycle_operation_writes_one_entry(db):
    acme = provision_tenant(schema_name="acme", name="Acme", domain="acme.test")
    copy = clone_tenant(acme, schema_name="acme_copy", name="Copy")
    copy_key = str(copy.pk)
    suspend_tenant(copy)
    activate_tenant(copy)
    rename_tenant(copy, "acme_two")
    delete_tenant(copy)
    assert summary() == [
        ("provision", "acme", OK),
        ("clone", "acme_copy", OK),
        ("suspend", "acme_copy", OK),
        ("activate", "acme_copy", OK),
        ("rename", "acme_copy", OK),
        ("delete", "acme_two", OK),
    ]
    first, cloned, *_, renamed, deleted = entries()
    assert first.tenant_key == str(acme.pk)
    assert first.parameters == {
        "name": "Acme",
        "domain": "acme.test",
        "method": None,
        "tenant_type": None,
    }
    assert cloned.parameters == {"source": "acme", "name": "Copy", "domain": None}
    assert renamed.parameters == {"new_schema_name": "acme_two"}
    assert deleted.parameters == {"drop": True}
    # The clone's whole life is filed under one tenant, through its rename and deletion.
    assert {e.tenant_key for e in entries(schema_name__startswith="acme_")} == {copy_key}
    assert first.duration > datetime.timedelta(0)
    assert first.actor and first.via  # the OS user and the program, outside commands


def test_a_failed_operation_is_recorded_failed_and_kept_after_rollback(db):
    provision_tenant(schema_name="acme", name="Acme")
    with pytest.raises(TenantAlreadyExists):
        provision_tenant(schema_name="acme", name="Again")
    failed = entries(outcome=FAILED)
    assert [(e.action, e.schema_name) for e in failed] == [("provision", "acme")]
    assert failed[0].error.startswith("TenantAlreadyExists: A tenant with schema 'acme'")
    # The entry was committed on its own connection: other connections see it now.
    own = own_connection()
    try:
        with own.cursor() as cursor:
            cursor.execute(
                "SELECT outcome FROM public.tenancy_app_auditentry WHERE id = %s", [failed[0].pk]
            )
            assert cursor.fetchone() == ("failed",)
    finally:
        own.close()


def test_an_operation_rolled_back_later_is_never_recorded_as_succeeded(db):
    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        provision_tenant(schema_name="acme", name="Acme")
        assert summary() == [("provision", "acme", OK)]
        raise Undo
    assert summary() == []


def test_bad_input_is_refused_without_an_entry(db):
    with pytest.raises(InvalidSchemaName):
        provision_tenant(schema_name="Robert'); DROP SCHEMA public;--", name="x")
    assert entries() == []


def test_commands_record_the_os_user_and_the_command(db):
    call_command(
        "create_tenant", "--schema", "acme", "--name", "Acme", "--no-domain", "--noinput",
        stdout=io.StringIO(),
    )  # fmt: skip
    (entry,) = entries()
    assert entry.via == "manage.py create_tenant"
    assert entry.actor == audit._os_user()
    assert audit.current_actor().via != "manage.py create_tenant"  # only during the command


def test_acting_as_names_who_acts(db):
    with audit.acting_as("signup-form", "https://example.com/signup"):
        provision_tenant(schema_name="acme", name="Acme")
    (entry,) = entries()
    assert (entry.actor, entry.via) == ("signup-form", "https://example.com/signup")


def test_migrations_record_one_entry_per_schema_that_ran_or_failed(make_tenant):
    schemas = ["alpha", "beta", "gamma"]
    for name in schemas:
        make_tenant(name)
    # Only these schemas: sequences are not transactional, and the template's must not
    # move (its positions are copied into every new tenant).
    call_command(
        "migrate_schemas", "inventory", "0004", schema=schemas, stdout=io.StringIO(), jobs=1
    )
    backwards = entries(action="migrate")
    by_schema = {e.schema_name: e for e in backwards}
    assert set(by_schema) == {"alpha", "beta", "gamma"}
    assert all(e.outcome == OK for e in backwards)
    assert "inventory.0010_product_is_active" in by_schema["alpha"].parameters["migrations"]
    with override_settings(INVENTORY_FAIL_IN_SCHEMAS=["beta"]), pytest.raises(CommandError):
        call_command(
            "migrate_schemas", schema=schemas, stdout=io.StringIO(), stderr=io.StringIO(), jobs=1
        )
    forwards = {e.schema_name: e for e in entries(action="migrate")[len(backwards) :]}
    assert {name: e.outcome for name, e in forwards.items()} == {
        "alpha": OK,
        "beta": FAILED,
        "gamma": OK,
    }
    assert "seed_categories asked to fail in beta" in forwards["beta"].error
    assert forwards["beta"].parameters["pending"] == 6
    count = len(entries())
    call_command(
        "migrate_schemas", schema=schemas, stdout=io.StringIO(), stderr=io.StringIO(), jobs=1
    )
    assert [e.schema_name for e in entries()[count:]] == ["beta"]  # nothing for the others


def test_the_repairs_of_check_tenants_are_recorded(make_tenant):
    gone = make_tenant("gone")
    drop_schema("gone")
    create_schema("orphan")
    assert mark_missing_as_failed(check_tenants()) == ["gone"]
    drop_orphan_schema("orphan")
    assert summary() == [
        ("provision", "gone", OK),
        ("mark_failed", "gone", OK),
        ("drop_orphan", "orphan", OK),
    ]
    assert entries(action="mark_failed")[0].tenant_key == str(gone.pk)
    with pytest.raises(TenantError):
        drop_orphan_schema("nothing")
    assert summary(outcome=FAILED) == []  # refused before the operation began


def test_retention_prunes_old_entries_when_new_ones_are_written(db):
    old = timezone.now() - datetime.timedelta(days=40)
    with public_context():
        AuditEntry.objects.create(
            action="provision", outcome=OK, schema_name="ancient", actor="x", via="y",
            started_at=old, duration=datetime.timedelta(0),
        )  # fmt: skip
    provision_tenant(schema_name="acme", name="Acme")
    assert [e.schema_name for e in entries()] == ["ancient", "acme"]  # kept by default
    with override_settings(TENANCY={**TENANCY, "AUDIT_RETENTION_DAYS": 30}):
        provision_tenant(schema_name="globex", name="Globex")
    assert [e.schema_name for e in entries()] == ["acme", "globex"]


@pytest.mark.parametrize("value", [0, -1, "30", 1.5, True])
def test_retention_must_be_a_positive_number_of_days(value):
    with override_settings(TENANCY={**TENANCY, "AUDIT_RETENTION_DAYS": value}):
        assert "tenancy.E121" in {message.id for message in run_checks()}
        with pytest.raises(SystemCheckError, match=r"tenancy\.E121"):
            call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    with override_settings(TENANCY={**TENANCY, "AUDIT_RETENTION_DAYS": 30}):
        assert "tenancy.E121" not in {message.id for message in run_checks()}


# The admin -------------------------------------------------------------------------------

AUDIT_LIST = "/admin/tenancy_app/auditentry/"


@pytest.fixture
def public_admin(db) -> Client:
    with public_context():
        user = get_user_model().objects.create_superuser("root", "root@public.test", "pw")
    client = Client(HTTP_HOST="public.test")
    client.force_login(user)
    return client


def test_admin_actions_are_recorded_as_the_signed_in_user(public_admin, make_tenant):
    acme = make_tenant("acme")
    response = public_admin.post(
        "/admin/tenancy_app/tenant/",
        {"action": "suspend_tenants", "_selected_action": [acme.pk]},
    )
    assert response.status_code == 302
    response = public_admin.post(
        "/admin/tenancy_app/tenant/",
        {"action": "activate_tenants", "_selected_action": [acme.pk]},
    )
    with public_context():
        assert Tenant.objects.get(pk=acme.pk).status == TenantStatus.ACTIVE
    admin_entries = entries(via="admin")
    assert [(e.action, e.actor) for e in admin_entries] == [
        ("suspend", "root"),
        ("activate", "root"),
    ]


def test_a_status_changed_in_the_form_is_a_suspension(public_admin, make_tenant):
    acme = make_tenant("acme")
    response = public_admin.post(
        f"/admin/tenancy_app/tenant/{acme.pk}/change/",
        {
            "name": "Acme",
            "status": TenantStatus.SUSPENDED,
            "domains-TOTAL_FORMS": "1",
            "domains-INITIAL_FORMS": "1",
            "domains-0-id": str(acme.domains.get().pk),
            "domains-0-tenant": str(acme.pk),
            "domains-0-domain": "acme.test",
            "domains-0-is_primary": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert summary(via="admin") == [("suspend", "acme", OK)]
    assert entries(via="admin")[0].parameters == {"from": "active"}


def test_the_tenant_page_shows_its_history(public_admin, make_tenant):
    acme = make_tenant("acme")
    suspend_tenant(acme)
    make_tenant("globex")
    page = public_admin.get(f"/admin/tenancy_app/tenant/{acme.pk}/change/").content.decode()
    assert 'class="tenancy-audit-history"' in page
    history = page.split('class="tenancy-audit-history"')[1].split("</table>")[0]
    assert history.count("<tr>") == 2
    assert "suspend" in history and "provision" in history
    assert f"{AUDIT_LIST}?tenant={acme.pk}" in page


def test_the_audit_list_filters_by_tenant_action_and_outcome(public_admin, make_tenant):
    acme = make_tenant("acme")
    make_tenant("globex")
    suspend_tenant(acme)
    initech = make_tenant("initech")
    with public_context():
        Tenant.objects.filter(pk=initech.pk).update(status=TenantStatus.FAILED)
    with pytest.raises(TenantError):
        activate_tenant(initech)  # a failed tenant: refused, and recorded as failed
    assert public_admin.get(AUDIT_LIST).status_code == 200

    def shown(query: str) -> int:
        response = public_admin.get(AUDIT_LIST + query)
        assert response.status_code == 200
        return int(response.context["cl"].result_count)

    assert shown("") == 5
    assert shown(f"?tenant={acme.pk}") == 2
    assert shown("?action__exact=suspend") == 1
    assert shown("?outcome__exact=failed") == 1
    assert shown("?q=globex") == 1
    page = public_admin.get(AUDIT_LIST + f"?tenant={acme.pk}").content.decode()
    assert "Acme (acme)" in page  # the chosen tenant, by name, in the filter


def test_nobody_edits_the_audit_trail_in_the_admin(public_admin, make_tenant):
    make_tenant("acme")
    entry = entries()[0]
    assert public_admin.get(AUDIT_LIST + "add/").status_code == 403
    change = public_admin.post(AUDIT_LIST + f"{entry.pk}/change/", {"schema_name": "x"})
    assert change.status_code == 403
    assert public_admin.post(AUDIT_LIST + f"{entry.pk}/delete/").status_code == 403
    assert entries()[0].schema_name == "acme"


def test_the_os_user_is_known_even_without_a_user_name(monkeypatch):
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("pwd.getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    assert audit._os_user() == f"uid {os.getuid()}"
