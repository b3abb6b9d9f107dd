"""Public test helpers: fast tenant test cases, and a round-trip counter.

``TenantTestCase`` provisions its tenant once per class, inside the transaction Django's
``TestCase`` holds for the whole class; PostgreSQL DDL is transactional, so the schema
disappears with the rollback at the end of the class, and no test leaves anything behind.
``setUpTestData`` and every test run inside the tenant's context.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import TestCase
from psycopg import pq

from .conf import tenancy_settings
from .context import Activation, tenant_context

if TYPE_CHECKING:
    from .models import TenantBase

# The provisioning helpers are imported where they are used: this module is also
# imported by projects (and benchmarks) that only want count_round_trips, where
# tenancy_app's models may not be installed.


class TenantTestCase(TestCase):
    tenant_schema: ClassVar[str] = "test_tenant"
    tenant_name: ClassVar[str] = "Test tenant"
    tenant_domain: ClassVar[str | None] = "tenant.test"
    tenant: ClassVar[TenantBase]
    _tenant_activation: ClassVar[Activation | None] = None

    @classmethod
    def setUpClass(cls) -> None:
        # Before the class-wide transaction: a template schema made inside it would be
        # rolled back with it and made again for every class. Made here, it is committed
        # once for the test database, and each class's tenant is a copy of it.
        from .template_schema import ensure_template

        if tenancy_settings.PROVISION_FROM_TEMPLATE:
            ensure_template()
        super().setUpClass()

    @classmethod
    def _enter_atomics(cls) -> Any:
        # Called by TestCase.setUpClass once the class-wide transaction is open and before
        # setUpTestData (the one place where the tenant can be made in time), and again
        # for each test's savepoint: provision on the first call only.
        atomics = super()._enter_atomics()  # type: ignore[misc]
        if cls._tenant_activation is not None:
            return atomics
        from .provisioning import provision_tenant

        cls.tenant = provision_tenant(
            schema_name=cls.tenant_schema, name=cls.tenant_name, domain=cls.tenant_domain
        )
        cls._tenant_activation = tenant_context(cls.tenant)
        cls._tenant_activation.__enter__()
        return atomics

    @classmethod
    def tearDownClass(cls) -> None:
        if cls._tenant_activation is not None:
            cls._tenant_activation.__exit__(None, None, None)
            cls._tenant_activation = None
        super().tearDownClass()


class RoundTrips:
    """The result of :func:`count_round_trips`, filled in when the block ends.

    ``count``: the round trips. ``statements``: the statements the server ran (one
    ``CommandComplete`` or error each). ``sql``: the SQL text of each message the client
    sent (one simple-protocol ``Query``, which may hold several statements, or one
    ``Parse`` of the extended protocol). The last two include the backend's own
    ``SET search_path``, which Django's query log leaves out.
    """

    count: int = 0
    statements: int = 0
    sql: list[str]

    def __init__(self) -> None:
        self.sql = []


@contextmanager
def count_round_trips(connection: BaseDatabaseWrapper) -> Iterator[RoundTrips]:
    """Count the client's waits for the server on ``connection`` inside the block.

    Read from libpq's own protocol trace: each frontend ``Sync`` (extended protocol, one
    per pipeline or statement) or ``Query`` (simple protocol) message is one round trip.
    For assertions like "a tenant switch costs no extra round trip"::

        with count_round_trips(connection) as trips, tenant_context(globex):
            list(Project.objects.all())
        assert trips.count == 1
        assert "SET search_path" in trips.sql[0]
    """
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    result = RoundTrips()
    with tempfile.TemporaryFile() as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield result
        finally:
            pgconn.untrace()
        trace.seek(0)
        text = trace.read().decode(errors="replace")
    # One message per entry; SQL with newlines continues on the lines that follow.
    for message in _MESSAGE_START.split(text):
        if _ROUND_TRIP.match(message):
            result.count += 1
        elif _STATEMENT_DONE.match(message):
            result.statements += 1
        sent = _QUERY.match(message) or _PARSE.match(message)
        if sent:
            result.sql.append(sent.group(1))


_MESSAGE_START = re.compile(r"\n(?=[FB]\t\d+\t)")
_ROUND_TRIP = re.compile(r"F\t\d+\t(Sync|Query)\b")
_STATEMENT_DONE = re.compile(r"B\t\d+\t(CommandComplete|ErrorResponse|EmptyQueryResponse)\b")
_QUERY = re.compile(r'F\t\d+\tQuery\t "(.*)"\n?\Z', re.DOTALL)
_PARSE = re.compile(r'F\t\d+\tParse\t "[^"]*" "(.*)" \d+(?: \S+)*\n?\Z', re.DOTALL)
