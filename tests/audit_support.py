"""What the tests of the audit trail share: entries committed outside the test's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections


def own_connection() -> Any:
    own = connections.create_connection("default")
    own.connect()
    own.set_autocommit(True)
    return own


@pytest.fixture
def forget_committed_entries(
    request: pytest.FixtureRequest, django_db_blocker: Any
) -> Iterator[None]:
    """Failed operations commit their entry on a connection of its own, outside the test's
    transaction: delete those after each test that uses the database."""
    used = [name for name in ("transactional_db", "db") if name in request.fixturenames]
    if not used:
        yield
        return
    request.getfixturevalue(used[0])  # the test database, before reading it
    with django_db_blocker.unblock():
        own = own_connection()
        try:
            with own.cursor() as cursor:
                cursor.execute("SELECT coalesce(max(id), 0) FROM public.tenancy_app_auditentry")
                (last,) = cursor.fetchone()
        finally:
            own.close()
    yield
    with django_db_blocker.unblock():
        own = own_connection()
        try:
            with own.cursor() as cursor:
                cursor.execute("DELETE FROM public.tenancy_app_auditentry WHERE id > %s", [last])
        finally:
            own.close()
