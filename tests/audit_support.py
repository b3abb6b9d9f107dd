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


def _delete_committed_entries() -> None:
    own = own_connection()
    try:
        with own.cursor() as cursor:
            cursor.execute("DELETE FROM public.tenancy_app_auditentry")
    finally:
        own.close()


@pytest.fixture
def forget_committed_entries(
    request: pytest.FixtureRequest, django_db_blocker: Any
) -> Iterator[None]:
    """Failed operations commit their entry on a connection of its own, outside any test's
    transaction: the test starts without those of other tests, and leaves none behind."""
    used = [name for name in ("transactional_db", "db") if name in request.fixturenames]
    if not used:
        yield
        return
    request.getfixturevalue(used[0])  # the test database, before touching it
    with django_db_blocker.unblock():
        _delete_committed_entries()
    yield
    with django_db_blocker.unblock():
        _delete_committed_entries()
