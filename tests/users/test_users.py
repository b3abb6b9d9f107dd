"""tenancy_app.contrib.users against a real PostgreSQL: shared users, per-tenant membership.

Runs under tests/settings_users.py (AUTH_USER_MODEL = "tenancy_users.User"), in a process
of its own started by tests/test_contrib_users.py; the main run skips this module.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection, transaction
from django.test import Client, override_settings

if settings.AUTH_USER_MODEL != "tenancy_users.User":
    pytest.skip(
        "runs under tests.settings_users (see tests/test_contrib_users.py)",
        allow_module_level=True,
    )

from tenancy_app import public_context, schema_context, tenant_context
from tenancy_app.contrib.users import (
    add_member,
    members_of,
    remove_member,
    tenants_of,
    transfer_ownership,
)
from tenancy_app.contrib.users.backends import MembershipBackend
from tenancy_app.contrib.users.checks import check_backends, check_user_model, check_users_placement
from tenancy_app.contrib.users.models import Membership, User
from tenancy_app.contrib.users.roles.models import MemberRoles
from tenancy_app.exceptions import MembershipError, SchemaNotFound
from tenancy_app.models import Tenant
from tenancy_app.provisioning import clone_tenant, delete_tenant
from tenancy_app.schemas import drop_schema

PASSWORD = "correct horse battery staple"


def tables(schema: str) -> set[str]:
    with public_context(), connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def new_user(email: str = "ann@example.com") -> User:
    with public_context():
        return User.objects.create_user(email, PASSWORD, name="Ann")


def sign_in(host: str, email: str = "ann@example.com", password: str = PASSWORD) -> Client:
    client = Client(HTTP_HOST=host)
    response = client.post("/sign-in/", {"email": email, "password": password})
    assert response.status_code in (200, 403)
    return client


def whoami(client: Client, host: str | None = None) -> dict[str, Any]:
    extra = {"HTTP_HOST": host} if host else {}
    data: dict[str, Any] = client.get("/whoami/", **extra).json()
    return data


@pytest.fixture
def acme_globex(make_tenant: Any) -> tuple[Tenant, Tenant]:
    return make_tenant("acme"), make_tenant("globex")


def editors(tenant: Tenant) -> Group:
    """A group of ``tenant`` allowed to add notes."""
    with tenant_context(tenant):
        group = Group.objects.create(name="editors")
        group.permissions.add(Permission.objects.get(codename="add_note"))
        return group


# One user table, one password, logins only where a member ------------------------------


def test_users_live_once_in_public_and_roles_in_every_schema(acme_globex):
    assert {"tenancy_users_user", "tenancy_users_membership"} <= tables("public")
    assert "tenancy_roles_memberroles" in tables("public")
    for schema in ("acme", "globex"):
        assert not {"tenancy_users_user", "tenancy_users_membership"} & tables(schema)
        assert "tenancy_roles_memberroles" in tables(schema)
        assert "auth_user" not in tables(schema)  # auth.User is swapped out


def test_a_login_is_accepted_only_on_tenants_the_user_belongs_to(acme_globex):
    acme, _globex = acme_globex
    add_member(acme, new_user())
    on_acme = sign_in("acme.test")
    assert whoami(on_acme)["email"] == "ann@example.com"
    refused = Client(HTTP_HOST="globex.test")
    response = refused.post("/sign-in/", {"email": "ann@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert whoami(refused)["email"] is None
    # The public site takes any active user (it has no tenant to belong to).
    assert whoami(sign_in("public.test"))["email"] == "ann@example.com"


def test_one_password_for_all_of_a_users_tenants(acme_globex):
    acme, globex = acme_globex
    ann = new_user()
    add_member(acme, ann)
    add_member(globex, ann)
    assert whoami(sign_in("acme.test"))["email"] == "ann@example.com"
    assert whoami(sign_in("globex.test"))["email"] == "ann@example.com"
    with public_context():
        ann.set_password("a new one, everywhere")
        ann.save()
    for host in ("acme.test", "globex.test"):
        assert whoami(sign_in(host))["email"] is None  # the old password: refused
        assert whoami(sign_in(host, password="a new one, everywhere"))["email"] is not None


def test_a_session_made_on_one_tenant_never_authenticates_on_another(acme_globex):
    acme, globex = acme_globex
    ann = new_user()
    add_member(acme, ann)
    add_member(globex, ann)  # a member of both, so only the session can tell
    on_acme = sign_in("acme.test")
    cookie = on_acme.cookies[settings.SESSION_COOKIE_NAME].value
    # Database sessions are per tenant: globex has no such session.
    on_globex = Client(HTTP_HOST="globex.test")
    on_globex.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert whoami(on_globex)["email"] is None
    # Even with sessions every host can read (signed cookies), the session's hash binds
    # it to the schema it was made in.
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        on_acme = sign_in("acme.test")
        assert whoami(on_acme)["email"] == "ann@example.com"
        cookie = on_acme.cookies[settings.SESSION_COOKIE_NAME].value
        on_globex = Client(HTTP_HOST="globex.test")
        on_globex.cookies[settings.SESSION_COOKIE_NAME] = cookie
        assert whoami(on_globex)["email"] is None
        on_public = Client(HTTP_HOST="public.test")
        on_public.cookies[settings.SESSION_COOKIE_NAME] = cookie
        assert whoami(on_public)["email"] is None


def test_a_removed_member_is_signed_out_at_its_next_request(acme_globex):
    acme, _ = acme_globex
    ann = new_user()
    add_member(acme, ann)
    on_acme = sign_in("acme.test")
    assert whoami(on_acme)["email"] == "ann@example.com"
    remove_member(acme, ann)
    assert whoami(on_acme)["email"] is None
    with tenant_context(acme):
        assert not MemberRoles.objects.exists()


def test_an_inactive_user_is_signed_out_everywhere(acme_globex):
    acme, _ = acme_globex
    ann = new_user()
    add_member(acme, ann)
    on_acme = sign_in("acme.test")
    with public_context():
        User.objects.filter(pk=ann.pk).update(is_active=False)
    assert whoami(on_acme)["email"] is None
    assert whoami(sign_in("acme.test"))["email"] is None


# Permissions per tenant -------------------------------------------------------------------


def test_permissions_differ_per_tenant(acme_globex):
    acme, globex = acme_globex
    ann = new_user()
    add_member(acme, ann, is_staff=True, groups=[editors(acme)])
    add_member(globex, ann, is_staff=True)
    on_acme, on_globex = sign_in("acme.test"), sign_in("globex.test")
    assert whoami(on_acme) == {
        "schema": "acme",
        "email": "ann@example.com",
        "is_staff": True,
        "is_superuser": False,
        "can_add_note": True,
    }
    assert whoami(on_globex)["can_add_note"] is False
    assert on_acme.get("/admin/notes/note/add/").status_code == 200
    assert on_globex.get("/admin/notes/note/add/").status_code == 403
    # One instance asked in both tenants is answered for each (no cache across them).
    with tenant_context(acme):
        assert ann.has_perm("notes.add_note") and ann.has_module_perms("notes")
        assert ann.get_group_permissions() == {"notes.add_note"}
    with tenant_context(globex):
        assert not ann.has_perm("notes.add_note") and not ann.has_module_perms("notes")
    with tenant_context(acme):
        assert list(MembershipBackend().with_perm("notes.add_note")) == [ann]
    with tenant_context(globex):
        assert list(MembershipBackend().with_perm("notes.add_note")) == []
    # Direct permissions, by "app_label.codename"
    add_member(globex, ann, permissions=["notes.add_note"])
    ann.forget_roles()
    with tenant_context(globex):
        assert ann.get_user_permissions() == {"notes.add_note"}
        assert not ann.is_staff  # add_member replaced the roles


def test_superuser_of_one_tenant_only(acme_globex):
    acme, globex = acme_globex
    ann = new_user()
    add_member(acme, ann, is_staff=True, is_superuser=True)
    add_member(globex, ann)
    with tenant_context(acme):
        assert ann.is_superuser and ann.has_perm("notes.delete_note")
    with tenant_context(globex):
        assert not ann.is_superuser and not ann.has_perm("notes.delete_note")
    with public_context():
        assert not ann.is_staff and not ann.is_superuser  # no role on the public site


def test_roles_of_a_vanished_schema_are_never_read_from_public(make_tenant):
    # (A schema of its own: this process remembers for a moment that it has gone.)
    doomed = make_tenant("doomed")
    ann = new_user()
    with public_context():
        MemberRoles.objects.create(user=ann, is_staff=True, is_superuser=True)  # public site
    add_member(doomed, ann)
    with public_context():
        drop_schema("doomed")
    with schema_context("doomed"), pytest.raises(Exception, match="does not exist"):
        ann.roles_here()
    with pytest.raises(SchemaNotFound):
        add_member(doomed, ann)


# The API ------------------------------------------------------------------------------------


def test_owner_membership_rules(acme_globex):
    acme, globex = acme_globex
    ann, bob = new_user(), new_user("bob@example.com")
    add_member(acme, ann, is_owner=True)
    add_member(acme, bob)
    with pytest.raises(MembershipError, match="use transfer_ownership"):
        add_member(acme, bob, is_owner=True)
    with pytest.raises(MembershipError, match="owns"):
        remove_member(acme, ann)
    transfer_ownership(acme, bob)
    with public_context():
        owners = Membership.objects.filter(tenant=acme, is_owner=True)
        assert [m.user for m in owners] == [bob]
    remove_member(acme, ann)
    with pytest.raises(MembershipError, match="not a member"):
        remove_member(acme, ann)
    with pytest.raises(MembershipError, match="not a member"):
        transfer_ownership(globex, ann)
    add_member(globex, ann)
    with public_context():
        assert list(tenants_of(ann)) == [globex]
        assert list(members_of(acme)) == [bob]
    delete_tenant(globex, drop=False)
    with public_context():
        assert list(tenants_of(ann)) == []  # the memberships went with the tenant


def test_a_member_cannot_be_deleted_only_deactivated(acme_globex):
    acme, _ = acme_globex
    ann = new_user()
    add_member(acme, ann)
    with public_context(), pytest.raises(MembershipError, match="deactivate"):
        ann.delete()
    with public_context(), pytest.raises(MembershipError), transaction.atomic():
        User.objects.filter(pk=ann.pk).delete()  # refused too (a savepoint keeps the test's)
    remove_member(acme, ann)
    with public_context():
        MemberRoles.objects.create(user=ann, is_staff=True)
        ann.delete()
        assert not MemberRoles.objects.filter(user_id=ann.pk).exists()


def test_a_copied_tenant_has_no_members(acme_globex):
    acme, _ = acme_globex
    ann = new_user()
    add_member(acme, ann, is_staff=True, is_superuser=True)
    copy = clone_tenant(acme, schema_name="acme_copy", name="Copy", domain="copy.test")
    with tenant_context(copy):
        assert MemberRoles.objects.filter(user=ann).exists()  # copied with the rows
        assert not ann.is_superuser  # but ann is no member of the copy
    assert whoami(sign_in("copy.test"))["email"] is None
    add_member(copy, ann)
    ann.forget_roles()
    with tenant_context(copy):
        assert not ann.is_superuser  # adding the member replaced the copied roles


def test_createsuperuser_in_a_tenant_makes_a_member(acme_globex, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command(
        "create_tenant_superuser", "--schema", "acme", "--email", "boss@acme.test",
        "--noinput", stdout=io.StringIO(),
    )  # fmt: skip
    call_command(
        "createsuperuser", "--email", "root@example.com", "--noinput", stdout=io.StringIO()
    )
    with public_context():
        boss = User.objects.get(email="boss@acme.test")
        root = User.objects.get(email="root@example.com")
        assert [t.schema_name for t in tenants_of(boss)] == ["acme"]
        assert list(tenants_of(root)) == []
        assert root.is_staff and root.is_superuser and not boss.is_staff
    with schema_context("acme"):
        assert boss.is_staff and boss.is_superuser
    assert sign_in("acme.test", "boss@acme.test").get("/admin/").status_code == 200
    assert sign_in("acme.test", "root@example.com").get("/admin/").status_code == 302  # login


# The admin, on both sides -------------------------------------------------------------------


@pytest.fixture
def operator(db: None) -> Client:
    with public_context():
        User.objects.create_superuser("root@example.com", PASSWORD)
    return sign_in("public.test", "root@example.com")


def test_the_registry_shows_each_tenants_members(acme_globex, operator):
    acme, globex = acme_globex
    ann, bob = new_user(), new_user("bob@example.com")
    add_member(acme, ann, is_owner=True)
    add_member(globex, bob)
    page = operator.get(f"/admin/tenancy_app/tenant/{acme.pk}/change/").content.decode()
    assert "ann@example.com" in page and "bob@example.com" not in page
    users = operator.get("/admin/tenancy_users/user/").content.decode()
    assert "ann@example.com" in users and "bob@example.com" in users
    user_page = operator.get(f"/admin/tenancy_users/user/{ann.pk}/change/").content.decode()
    assert "Acme (acme)" in user_page


def test_a_tenant_admin_manages_its_own_members(acme_globex):
    acme, globex = acme_globex
    boss, bob = new_user("boss@example.com"), new_user("bob@example.com")
    add_member(acme, boss, is_staff=True, is_superuser=True, is_owner=True)
    add_member(globex, bob)
    admin = sign_in("acme.test", "boss@example.com")
    members = "/admin/tenancy_roles/memberroles/"
    listing = admin.get(members).content.decode()
    assert "boss@example.com" in listing and "bob@example.com" not in listing
    assert admin.get("/admin/tenancy_users/user/").status_code == 403  # shared users: public
    # An existing user by address (its password is not touched), and a new one.
    response = admin.post(
        members + "add/", {"email": "Bob@Example.com", "password": "ignored", "is_staff": "on"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    response = admin.post(members + "add/", {"email": "cat@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert whoami(sign_in("acme.test", "bob@example.com"))["is_staff"] is True
    assert whoami(sign_in("acme.test", "cat@example.com"))["email"] == "cat@example.com"
    with public_context():
        assert [t.schema_name for t in tenants_of(User.objects.get(email="cat@example.com"))] == [
            "acme"
        ]
    # Groups are the tenant's own.
    group = editors(acme)
    with tenant_context(acme):
        roles = MemberRoles.objects.get(user__email="bob@example.com")
    response = admin.post(
        f"{members}{roles.pk}/change/", {"is_staff": "on", "groups": [group.pk], "permissions": []}
    )
    assert response.status_code == 302
    assert whoami(sign_in("acme.test", "bob@example.com"))["can_add_note"] is True
    # Removing a member keeps its account; the owner cannot be removed.
    response = admin.post(f"{members}{roles.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    with public_context():
        assert User.objects.filter(email="bob@example.com").exists()
        assert [t.schema_name for t in tenants_of(User.objects.get(email="bob@example.com"))] == [
            "globex"
        ]
    with tenant_context(acme):
        boss_roles = MemberRoles.objects.get(user=boss)
    response = admin.post(f"{members}{boss_roles.pk}/delete/", {"post": "yes"}, follow=True)
    assert "transfer the ownership" in response.content.decode()
    with public_context():
        assert Membership.objects.filter(user=boss, tenant=acme).exists()


def test_the_add_member_form_refuses_a_member_and_a_new_user_without_password(acme_globex):
    acme, _ = acme_globex
    boss = new_user("boss@example.com")
    add_member(acme, boss, is_staff=True, is_superuser=True)
    admin = sign_in("acme.test", "boss@example.com")
    members = "/admin/tenancy_roles/memberroles/add/"
    response = admin.post(members, {"email": "boss@example.com"})
    assert "is a member already" in response.content.decode()
    response = admin.post(members, {"email": "new@example.com"})
    assert "A new user needs a password" in response.content.decode()
    with public_context():
        assert not User.objects.filter(email="new@example.com").exists()


# System checks (tenancy.E166-E169) ---------------------------------------------------------

TENANCY = settings.TENANCY
USERS, ROLES = "tenancy_app.contrib.users", "tenancy_app.contrib.users.roles"


def without(entries: list[str], *names: str) -> list[str]:
    return [entry for entry in entries if entry not in names]


CHECK_CASES = [
    ("tenancy.E166", check_users_placement,
     {"TENANCY": {**TENANCY, "TENANT_APPS": [*TENANCY["TENANT_APPS"], USERS]}}),
    ("tenancy.E167", check_users_placement,
     {"TENANCY": {**TENANCY, "TENANT_APPS": without(TENANCY["TENANT_APPS"], ROLES)}}),
    ("tenancy.E167", check_users_placement,
     {"TENANCY": {**TENANCY, "SHARED_APPS": without(TENANCY["SHARED_APPS"], ROLES)}}),
    ("tenancy.E168", check_user_model, {"AUTH_USER_MODEL": "tenancy_users.Membership"}),
    ("tenancy.E169", check_backends,
     {"AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend"]}),
    ("tenancy.E169", check_backends,
     {"AUTHENTICATION_BACKENDS": [*settings.AUTHENTICATION_BACKENDS,
                                  "django.contrib.auth.backends.ModelBackend"]}),
]  # fmt: skip


@pytest.mark.parametrize(("check_id", "check", "overrides"), CHECK_CASES)
def test_check_reports(check_id: str, check: Any, overrides: dict[str, Any]) -> None:
    with override_settings(**overrides):
        messages = check(None)
        assert check_id in {message.id for message in messages}
        assert all(message.hint for message in messages)
        # (Django's own model checks cannot run with a user model swapped at run time.)
        tags = ["compatibility"] if check_id == "tenancy.E168" else None
        with pytest.raises(SystemCheckError, match=re.escape(check_id)):
            call_command("check", tags=tags)


def test_these_settings_pass_every_check() -> None:
    assert [m for m in run_checks() if (m.id or "").startswith("tenancy.")] == []
