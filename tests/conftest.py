from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tenancy_app import provision_tenant
from tenancy_app.context import public_context
from tenancy_app.lookup import clear_lookup_cache
from tenancy_app.models import TenantBase, get_tenant_model
from tenancy_app.schemas import drop_schema, list_schemas
from tenancy_app.template_schema import ensure_template

MakeTenant = Callable[..., TenantBase]

# These suites need settings of their own (AUTH_USER_MODEL, a PostGIS backend), which cannot
# change inside a running Django: tests/test_contrib_users.py and tests/test_postgis.py run
# each in a pytest process of its own. The main run does not collect them.
_OWN_SETTINGS = {"users": "tests.settings_users", "postgis": "tests.settings_postgis"}
collect_ignore = [
    folder
    for folder, module in _OWN_SETTINGS.items()
    if os.environ.get("DJANGO_SETTINGS_MODULE") != module
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """The test database, with the template schema made once (committed) for the whole run.

    Every tenant a test provisions is then a copy of it (one script), not a migration run.
    """
    with django_db_blocker.unblock():
        ensure_template()


@pytest.fixture
def make_tenant(db: None) -> MakeTenant:
    """Provision tenants inside the test's transaction (rolled back with it, schema included)."""

    def make(schema_name: str, domain: str | None = None, name: str | None = None) -> TenantBase:
        return provision_tenant(
            schema_name=schema_name,
            name=name or schema_name.title(),
            domain=domain if domain is not None else f"{schema_name}.test",
        )

    return make


@pytest.fixture
def make_committed_tenant(transactional_db: None) -> Iterator[MakeTenant]:
    """Provision committed tenants (visible to other connections); dropped after the test."""
    made: list[str] = []

    def make(schema_name: str, domain: str | None = None, name: str | None = None) -> TenantBase:
        made.append(schema_name)
        return provision_tenant(
            schema_name=schema_name,
            name=name or schema_name.title(),
            domain=domain if domain is not None else f"{schema_name}.test",
        )

    yield make
    with public_context():
        get_tenant_model().objects.filter(schema_name__in=made).delete()
        for schema in made:
            drop_schema(schema, missing_ok=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis for the whole run (started on first use); each user takes its own db."""
    from tests.servers import redis_server

    with redis_server() as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_lookup_cache() -> Iterator[None]:
    clear_lookup_cache()
    yield
    clear_lookup_cache()


@pytest.fixture(autouse=True)
def _no_leftover_schemas(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test leaves the database's schemas as it found them."""
    if "django_db_blocker" not in request.fixturenames:
        yield
        return
    blocker = request.getfixturevalue("django_db_blocker")
    with blocker.unblock(), public_context():
        before = set(list_schemas())
    yield
    with blocker.unblock(), public_context():
        after = set(list_schemas())
    assert after == before, f"schemas left behind: {sorted(after - before)}"
