"""System checks: each id triggered directly and through ``manage.py check``.

No test here is marked for the database: pytest-django refuses any query, so these
tests also prove that the checks run without one.
"""

from __future__ import annotations

import re
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.cache import caches
from django.core.checks import CheckMessage, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from tenancy_app import checks, schema_context
from tenancy_app.backends.postgresql.base import DatabaseWrapper
from tenancy_app.cache import make_key
from tenancy_app.models import Tenant
from tenancy_app.routers import TenantRouter
from tests import settings as base

ROOT = Path(__file__).resolve().parent.parent
SHARED = tuple(base.TENANCY["SHARED_APPS"])
TENANT = tuple(base.TENANCY["TENANT_APPS"])
TENANT_MIDDLEWARE = "tenancy_app.middleware.TenantMiddleware"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
DEFAULT_KEY_FUNCTION = "django.core.cache.backends.base.default_key_func"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
Check = Callable[..., list[CheckMessage]]


def tenancy(**changes: Any) -> dict[str, Any]:
    """override_settings keywords for the test settings' TENANCY with ``changes``."""
    return {"TENANCY": {**base.TENANCY, **changes}}


def without(entries: tuple[str, ...], *names: str) -> list[str]:
    return [entry for entry in entries if entry not in names]


#: Tenant types over the test apps: TENANT_APPS common to both, notes and inventory per type.
COMMON = without(TENANT, "tests.notes", "tests.inventory")
TYPES = {
    "store": {"APPS": ["tests.notes", "tests.inventory"], "URLCONF": "tests.urls"},
    "agency": {"APPS": ["tests.notes"]},
}


def typed(types: Any = None, **changes: Any) -> dict[str, Any]:
    """override_settings keywords with tenant types (``TYPES`` unless given)."""
    changes = {"TENANT_APPS": COMMON, **changes}
    return tenancy(TENANT_TYPES=TYPES if types is None else types, **changes)


@contextmanager
def overridden(**overrides: Any) -> Iterator[None]:
    """override_settings, without Django's warning about overriding DATABASES.

    Nothing here connects, so the connections Django already made do not matter.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Overriding setting DATABASES", UserWarning)
        with override_settings(**overrides):
            yield


def ids(messages: list[CheckMessage]) -> set[str]:
    return {message.id for message in messages if message.id}


class OtherRouter:
    """A project's own router, which is no TenantRouter."""


@pytest.fixture
def tenant_proxy() -> Iterator[str]:
    """A TenantBase subclass other than TENANT_MODEL, registered for one test only."""

    class OtherTenant(Tenant):
        class Meta:
            proxy = True
            app_label = "notes"

    yield "notes.OtherTenant"
    del apps.all_models["notes"]["othertenant"]
    apps.clear_cache()


# (id, check function, settings that trigger it); each id appears at least once.
CASES: list[tuple[str, Check, dict[str, Any]]] = [
    ("tenancy.E001", checks.check_database_engines,
     {"DATABASES": {"default": {**base.DATABASES["default"],
                                "ENGINE": "django.db.backends.postgresql"}}}),
    ("tenancy.E001", checks.check_database_engines,
     {"DATABASES": {"default": base.DATABASES["default"], "other": SQLITE}}),
    ("tenancy.E001", checks.check_database_engines,
     {"DATABASES": {"default": {**base.DATABASES["default"], "ENGINE": "no.such.engine"}}}),
    ("tenancy.E002", checks.check_router, {"DATABASE_ROUTERS": []}),
    ("tenancy.E002", checks.check_router, {"DATABASE_ROUTERS": ["tests.test_checks.OtherRouter"]}),
    ("tenancy.E003", checks.check_middleware,
     {"MIDDLEWARE": without(tuple(base.MIDDLEWARE), TENANT_MIDDLEWARE)}),
    ("tenancy.W001", checks.check_middleware,
     {"MIDDLEWARE": [SESSION_MIDDLEWARE, TENANT_MIDDLEWARE,
                     *without(tuple(base.MIDDLEWARE), TENANT_MIDDLEWARE, SESSION_MIDDLEWARE)]}),
    ("tenancy.E004", checks.check_app_lists, tenancy(SHARED_APPS="tenancy_app")),
    ("tenancy.E004", checks.check_app_lists, tenancy(RESOLVERS=None)),
    ("tenancy.E005", checks.check_tenancy_app_shared,
     tenancy(SHARED_APPS=without(SHARED, "tenancy_app"))),
    ("tenancy.E006", checks.check_apps_placed, tenancy(TENANT_APPS=without(TENANT, "tests.notes"))),
    ("tenancy.W002", checks.check_apps_placed, tenancy(TENANT_APPS=[*TENANT, "tests.nothing"])),
    ("tenancy.E007", checks.check_registry_models, tenancy(TENANT_MODEL="tenancy_app.Missing")),
    ("tenancy.E007", checks.check_registry_models, tenancy(DOMAIN_MODEL="not-a-model-label")),
    ("tenancy.E008", checks.check_registry_models, tenancy(TENANT_MODEL="notes.Note")),
    ("tenancy.E008", checks.check_registry_models, tenancy(DOMAIN_MODEL="tenancy_app.Tenant")),
    ("tenancy.E010", checks.check_registry_models, tenancy(TENANT_APPS=[*TENANT, "tenancy_app"])),
    ("tenancy.E011", checks.check_schema_names, tenancy(PUBLIC_SCHEMA="Public")),
    ("tenancy.E011", checks.check_schema_names, tenancy(PUBLIC_SCHEMA="p" * 64)),
    ("tenancy.E012", checks.check_schema_names, tenancy(TEMPLATE_SCHEMA="pg_template")),
    ("tenancy.E012", checks.check_schema_names, tenancy(TEMPLATE_SCHEMA="tenant-template")),
    ("tenancy.E013", checks.check_schema_names,
     tenancy(PUBLIC_SCHEMA="shared", TEMPLATE_SCHEMA="shared")),
    ("tenancy.W003", checks.check_unknown_keys, tenancy(TENANT_APP=["tests.notes"])),
    ("tenancy.E014", checks.check_resolvers, tenancy(RESOLVERS=[])),
    ("tenancy.E015", checks.check_resolvers, tenancy(RESOLVERS=["tenancy_app.resolvers.Nope"])),
    ("tenancy.E015", checks.check_resolvers, tenancy(RESOLVERS=["django.views.View"])),
    ("tenancy.E016", checks.check_views, tenancy(NOT_FOUND_VIEW="tenancy_app.views.nope")),
    ("tenancy.E016", checks.check_views, tenancy(UNAVAILABLE_VIEW="no.such.module.view")),
    ("tenancy.E017", checks.check_urlconfs, tenancy(PUBLIC_URLCONF="tests.no_such_urls")),
    ("tenancy.E017", checks.check_urlconfs, tenancy(TENANT_URLCONF=42)),
    ("tenancy.E018", checks.check_limits, tenancy(MAX_SCHEMAS_PER_CONNECTION=0)),
    ("tenancy.E018", checks.check_limits, tenancy(MAX_SCHEMAS_PER_CONNECTION="100")),
    ("tenancy.E018", checks.check_limits, tenancy(MAX_SCHEMAS_PER_CONNECTION=True)),
    ("tenancy.E019", checks.check_limits, tenancy(LOOKUP_CACHE_SIZE=-1)),
    ("tenancy.E024", checks.check_search_path_scope, tenancy(SEARCH_PATH_SCOPE="statement")),
    ("tenancy.E026", checks.check_limits, tenancy(REGISTRY_MAX_AGE=0)),
    ("tenancy.W006", checks.check_search_path_scope, tenancy(SEARCH_PATH_SCOPE="transaction")),
    ("tenancy.E025", checks.check_lookup_cache_alias, tenancy(LOOKUP_CACHE_ALIAS="redis")),
    ("tenancy.E190", checks.check_public_domains, tenancy(PUBLIC_DOMAINS=["example.com:8000"])),
    ("tenancy.E190", checks.check_public_domains, tenancy(PUBLIC_DOMAINS=["bücher.example"])),
    ("tenancy.E190", checks.check_public_domains, tenancy(PUBLIC_DOMAINS=["*.example.com"])),
    ("tenancy.E101", checks.check_task_unavailable_tenant, tenancy(TASK_UNAVAILABLE_TENANT="drop")),
    ("tenancy.E004", checks.check_app_lists, tenancy(UNMANAGED_SCHEMAS="reports")),
    ("tenancy.E121", checks.check_audit_retention, tenancy(AUDIT_RETENTION_DAYS=0)),
    ("tenancy.E121", checks.check_audit_retention, tenancy(AUDIT_RETENTION_DAYS="30")),
    ("tenancy.E020", checks.check_auth_content_types,
     tenancy(TENANT_APPS=without(TENANT, "django.contrib.contenttypes"))),
    ("tenancy.E021", checks.check_shared_relations,
     tenancy(SHARED_APPS=without(SHARED, "django.contrib.contenttypes"))),
    ("tenancy.E022", checks.check_sessions,
     tenancy(TENANT_APPS=without(TENANT, "django.contrib.sessions"))),
    ("tenancy.E023", checks.check_admin,
     tenancy(TENANT_APPS=without(TENANT, "django.contrib.auth"))),
    ("tenancy.E027", checks.check_admin_site,
     {"INSTALLED_APPS": [
         "django.contrib.admin" if app == "tenancy_app.apps.TenancyAdminConfig" else app
         for app in base.INSTALLED_APPS]}),
    ("tenancy.W004", checks.check_session_cookie_domain,
     {"SESSION_COOKIE_DOMAIN": ".example.com",
      "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies"}),
    ("tenancy.W004", checks.check_session_cookie_domain,
     {"SESSION_COOKIE_DOMAIN": ".example.com",
      "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
      "CACHES": {"default": {"BACKEND": LOCMEM}}}),
    ("tenancy.E170", checks.check_base_backend, tenancy(BASE_BACKEND="no.such.backend")),
    ("tenancy.E170", checks.check_base_backend,
     tenancy(BASE_BACKEND="django.db.backends.sqlite3")),
    ("tenancy.E161", checks.check_tenant_types, typed("store")),
    ("tenancy.E161", checks.check_tenant_types, typed({"store": ["tests.notes"]})),
    ("tenancy.E161", checks.check_tenant_types, typed({"store": {"APPS": "tests.notes"}})),
    ("tenancy.E161", checks.check_tenant_types, typed({"store": {"APP": ["tests.notes"]}})),
    ("tenancy.E161", checks.check_tenant_types, typed({"store": {"URLCONF": 42}})),
    ("tenancy.E162", checks.check_tenant_types, typed({"Store": TYPES["store"]})),
    ("tenancy.E162", checks.check_tenant_types, typed({"s" * 50: TYPES["store"]})),
    ("tenancy.E163", checks.check_type_apps, typed({"agency": TYPES["agency"]})),
    ("tenancy.E164", checks.check_type_apps,
     typed({"store": {"APPS": TENANT}, "empty": {"APPS": []}}, TENANT_APPS=[])),
    ("tenancy.W161", checks.check_type_apps,
     typed({**TYPES, "agency": {"APPS": ["tests.notes", "tests.nothing"]}})),
    ("tenancy.E165", checks.check_type_urlconfs,
     typed({**TYPES, "agency": {"APPS": ["tests.notes"], "URLCONF": "tests.no_such_urls"}})),
    ("tenancy.E020", checks.check_auth_content_types,
     typed({**TYPES, "agency": {"APPS": ["tests.notes"]}},
           TENANT_APPS=without(COMMON, "django.contrib.contenttypes"))),
    ("tenancy.E023", checks.check_admin,
     typed({"store": {"APPS": without(TENANT, "django.contrib.auth")},
            "agency": {"APPS": ["tests.notes", "tests.inventory"]}}, TENANT_APPS=[])),
    ("tenancy.W005", checks.check_caches, {"CACHES": {"default": {"BACKEND": LOCMEM}}}),
    ("tenancy.W005", checks.check_caches,
     {"CACHES": {"default": {"BACKEND": LOCMEM, "KEY_FUNCTION": "tenancy_app.cache.make_key"},
                 "other": {"BACKEND": LOCMEM, "KEY_FUNCTION": DEFAULT_KEY_FUNCTION}}}),
]  # fmt: skip


PARAMS = [pytest.param(*case, id=case[0]) for case in CASES]


@pytest.mark.parametrize(("check_id", "check", "overrides"), PARAMS)
def test_check_reports(check_id: str, check: Check, overrides: dict[str, Any]) -> None:
    with overridden(**overrides):
        messages = check(None)
    assert check_id in ids(messages)
    for message in messages:
        assert message.msg and message.hint, message


@pytest.mark.parametrize(("check_id", "check", "overrides"), PARAMS)
def test_check_command_reports(check_id: str, check: Check, overrides: dict[str, Any]) -> None:
    stderr = StringIO()
    with overridden(**overrides):
        if ".E" in check_id:
            with pytest.raises(SystemCheckError, match=re.escape(check_id)):
                call_command("check", stderr=stderr)
        else:
            call_command("check", stderr=stderr)
    if ".W" in check_id:
        assert check_id in stderr.getvalue()


def test_swapped_tenant_model_needs_swapped_domain_model(tenant_proxy: str) -> None:
    with overridden(**tenancy(TENANT_MODEL=tenant_proxy)):
        assert "tenancy.E009" in ids(checks.check_registry_models(None))
        with pytest.raises(SystemCheckError, match=r"tenancy\.E009"):
            call_command("check")


def test_test_settings_pass_every_check() -> None:
    tenancy_messages = [m for m in run_checks() if (m.id or "").startswith("tenancy.")]
    assert tenancy_messages == []
    stdout = StringIO()
    call_command("check", fail_level="WARNING", stdout=stdout, stderr=stdout)
    assert "no issues" in stdout.getvalue()


def test_every_check_id_is_tested_and_documented() -> None:
    paths = [
        *(ROOT / "tenancy_app" / "checks").glob("*.py"),
        *(ROOT / "tenancy_app" / "contrib").glob("*/checks.py"),
    ]
    source = "".join(path.read_text() for path in paths)
    in_code = set(re.findall(r'id="(tenancy\.[EW]\d{3})"', source))
    docs = (ROOT / "docs" / "checks.rst").read_text()
    in_docs = set(re.findall(r"^(tenancy\.[EW]\d{3})\n=+$", docs, flags=re.MULTILINE))
    # E009 is tested below, W162 (it needs the database) in tests/test_tenant_types.py,
    # contrib.users' E166-E169 in tests/users/ (under its own settings), and W141 (it needs
    # a Citus cluster) in tests/test_citus.py, directly and through check.
    elsewhere = {
        "tenancy.E009",
        "tenancy.W141",
        "tenancy.W162",
        *(f"tenancy.E{n}" for n in range(166, 170)),
    }
    tested = {case[0] for case in CASES} | elsewhere
    assert in_code == in_docs == tested


# What must not be reported ------------------------------------------------------------


def test_backend_subclass_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("tests.custom_backend.base")
    module.DatabaseWrapper = type("DatabaseWrapper", (DatabaseWrapper,), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    engine = {**base.DATABASES["default"], "ENGINE": "tests.custom_backend"}
    with overridden(DATABASES={"default": engine}):
        assert checks.check_database_engines(None) == []


def test_router_instance_and_subclass_are_accepted() -> None:
    class CustomRouter(TenantRouter):
        pass

    for routers in ([TenantRouter()], [CustomRouter], [OtherRouter(), CustomRouter()]):
        with overridden(DATABASE_ROUTERS=routers):
            assert checks.check_router(None) == []


def test_security_middleware_may_come_first() -> None:
    middleware = ["django.middleware.security.SecurityMiddleware", *base.MIDDLEWARE]
    with overridden(MIDDLEWARE=middleware):
        assert checks.check_middleware(None) == []


def test_app_config_paths_count_as_the_app() -> None:
    shared = [
        "django.contrib.auth.apps.AuthConfig" if app == "django.contrib.auth" else app
        for app in SHARED
    ]
    with overridden(**tenancy(SHARED_APPS=shared)):
        assert checks.check_apps_placed(None) == []
        assert checks.check_shared_relations(None) == []


def test_unknown_key_hint_names_the_likely_key() -> None:
    with overridden(**tenancy(TENANT_APP=[])):
        (warning,) = checks.check_unknown_keys(None)
    assert "'TENANT_APP'" in warning.msg
    assert warning.hint == "Did you mean 'TENANT_APPS'?"


def test_shared_relation_names_the_model_and_field() -> None:
    with overridden(**tenancy(SHARED_APPS=without(SHARED, "django.contrib.contenttypes"))):
        messages = checks.check_shared_relations(None)
    assert {message.obj for message in messages} >= {apps.get_model("auth.Permission")}
    assert any("'content_type'" in message.msg for message in messages)


def test_limits_accept_valid_values() -> None:
    for max_schemas, size in ((None, 0), (1, 10), (500, 10_000)):
        with overridden(**tenancy(MAX_SCHEMAS_PER_CONNECTION=max_schemas, LOOKUP_CACHE_SIZE=size)):
            assert checks.check_limits(None) == []


def test_tenant_types_pass_every_check() -> None:
    with overridden(**typed()):
        tenancy_messages = [m for m in run_checks() if (m.id or "").startswith("tenancy.")]
    assert tenancy_messages == []


def test_without_tenant_types_the_type_checks_are_silent() -> None:
    for check in (checks.check_tenant_types, checks.check_type_apps, checks.check_type_urlconfs):
        assert check(None) == []


def test_database_sessions_per_tenant_pass_with_a_cookie_domain() -> None:
    with overridden(SESSION_COOKIE_DOMAIN=".example.com"):
        assert checks.check_session_cookie_domain(None) == []


def test_cache_sessions_pass_with_a_tenant_aware_cache() -> None:
    cache = {"BACKEND": LOCMEM, "KEY_FUNCTION": "tenancy_app.cache.make_key"}
    engine = "django.contrib.sessions.backends.cache"
    with overridden(
        SESSION_ENGINE=engine,
        CACHES={"default": cache},
        **tenancy(TENANT_APPS=without(TENANT, "django.contrib.sessions")),
    ):
        assert checks.check_sessions(None) == []
        assert checks.check_session_cookie_domain(None) == []
        assert checks.check_caches(None) == []


def test_caches_with_the_key_function_or_dummy_pass() -> None:
    caches_setting = {
        "default": {"BACKEND": LOCMEM, "KEY_FUNCTION": make_key},
        "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    with overridden(CACHES=caches_setting):
        assert checks.check_caches(None) == []


# The key function -----------------------------------------------------------------------


def test_make_key_keeps_tenants_apart() -> None:
    cache_setting = {"BACKEND": LOCMEM, "KEY_FUNCTION": "tenancy_app.cache.make_key"}
    with override_settings(CACHES={"default": cache_setting}):
        cache = caches["default"]
        with schema_context("acme"):
            cache.set("dashboard", "acme's")
        with schema_context("globex"):
            assert cache.get("dashboard") is None
            cache.set("dashboard", "globex's")
        with schema_context("acme"):
            assert cache.get("dashboard") == "acme's"
        assert cache.get("dashboard") is None  # the public schema has its own entries
        cache.clear()


def test_make_key_shape() -> None:
    assert make_key("k", "site", 2) == "site:public:2:k"
    with schema_context("acme"):
        assert make_key("k", "", 1) == ":acme:1:k"
