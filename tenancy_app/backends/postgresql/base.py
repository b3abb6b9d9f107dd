"""Django's PostgreSQL backend with a search_path that follows the active tenant.

Every statement of a Django cursor reaches the psycopg cursor classes of :mod:`.cursors`,
which ask :meth:`DatabaseWrapper.search_path_plan` what, if anything, must be sent with
it: that checks the active context's lease (:mod:`tenancy_app.leases`) and asks the
configured scope (:mod:`.scopes`); with the default session scope, a ``SET search_path``
only when the server session's differs from the one the current context wants
(:mod:`.session`). :meth:`DatabaseWrapper.run_inline` sends it in the same message as
the statement, :meth:`DatabaseWrapper.run_planned` pipelined with it (or before it, for
the statements that cannot share a transaction with it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from django.db import NotSupportedError
from django.db.backends.postgresql import base as postgresql
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format, TransactionStatus

from ...conf import tenancy_settings
from ...context import get_active_schema
from ...leases import renew
from .base_backend import over_base_backend
from .cursors import ServerCursor, ServerSideCursor, with_search_path
from .introspection import DatabaseIntrospection
from .operations import DatabaseOperations
from .scopes import SCOPES, Plan
from .session import SessionSearchPath

T = TypeVar("T")
_TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid


def _around(connection: psycopg.Connection[Any], plan: Plan, run: Callable[[], T]) -> T:
    cursor = SessionSearchPath.of(connection).cursor(connection)
    for statement in plan.before:
        cursor.execute(statement)
    result = run()
    for statement in plan.after:
        cursor.execute(statement)
    return result


def _end_failed_transaction(connection: psycopg.Connection[Any]) -> None:
    """Roll back the transaction opened for one autocommit statement that failed."""
    if connection.closed or connection.pgconn.transaction_status == TransactionStatus.IDLE:
        return
    with contextlib.suppress(psycopg.Error):
        connection.execute("ROLLBACK")


def _joined(statements: tuple[bytes, ...], escape: bool) -> str:
    text = "".join(f"{statement.decode()}; " for statement in statements)
    # With parameters, psycopg reads the whole message for placeholders.
    return text.replace("%", "%%") if escape else text


class DatabaseWrapper(postgresql.DatabaseWrapper):
    introspection_class = DatabaseIntrospection
    ops_class = DatabaseOperations

    def create_cursor(self, name: str | None = None) -> Any:
        """Django's cursor for this connection, of the search_path-aware class (:mod:`.cursors`).

        This is Django's own construction (5.2 and 6.x alike), the classes aside: the
        connection's ``cursor_factory`` (Django's, or the project's
        ``OPTIONS["cursor_factory"]``) for plain cursors, and for named ones
        (``QuerySet.iterator()``) the classes Django picks. The connection itself keeps
        stock Django's factories, so cursors opened on it directly stay plain.
        tests/test_backend.py reads through each kind on every Django version CI runs.
        """
        connection = self.connection
        if name is None:
            cursor = with_search_path(connection.cursor_factory)(connection)
        else:
            server_side_binding = self.settings_dict["OPTIONS"].get("server_side_binding")
            cursor_class: Any = ServerCursor if server_side_binding is True else ServerSideCursor
            # In autocommit mode the cursor outlives the statement's transaction.
            cursor = cursor_class(
                connection, name=name, scrollable=False, withhold=connection.autocommit
            )
        tzloader = connection.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
        if self.timezone != getattr(tzloader, "timezone", None):
            register_tzloader(self.timezone, cursor)
        cursor.tenancy_db = self
        return cursor

    def search_path_plan(self) -> Plan | None:
        """What must be sent before the next statement for the active context, or None."""
        connection = self.connection
        if connection.pgconn.transaction_status == TransactionStatus.INERROR:
            # Only a rollback (which the next statement may be) can run now; the
            # search_path is looked at again after it.
            return None
        active = get_active_schema()
        if active is None:
            wanted = tenancy_settings.PUBLIC_SEARCH_PATH
        else:
            wanted = active.search_path
            lease = active.lease
            if lease is not None and lease.expires.get(self.alias, 0.0) <= monotonic():
                renew(self, lease)  # or TenantUnavailable, before anything runs there
        return SCOPES[tenancy_settings.SEARCH_PATH_SCOPE].plan(connection, wanted)

    def run_inline(
        self, plan: Plan, cursor: Any, execute: Callable[..., T], sql: str, params: Any
    ) -> T:
        """Send ``plan``'s statements and ``sql`` as one message: ``SET ...; SELECT ...``.

        (Django's default psycopg cursor binds parameters client-side and uses the simple
        query protocol, where one message may hold several statements.) The server runs
        them in one implicit transaction, so a failing statement takes the SET with it;
        the cursor is then moved on to the statement's own result, and records what it
        sent around it (``cursor.sent_around``) so that Django logs the statement alone.
        """
        escape = params is not None
        before = _joined(plan.before, escape)
        # After a newline, in case the statement ends with a -- comment.
        after = "".join(f"\n; {statement.decode()}" for statement in plan.after)
        cursor.sent_around = (_joined(plan.before, False), after)
        ok = False
        try:
            result = execute(before + sql + after, params)
            for _ in plan.before:
                cursor.nextset()
            ok = True
            return result
        finally:
            if not ok and plan.own_transaction:
                _end_failed_transaction(self.connection)
            plan.scope.done(self.connection, plan, ok)

    def run_planned(self, plan: Plan, run: Callable[[], T], *, pipeline: bool) -> T:
        """Send ``plan``'s statements around ``run`` (one statement of a cursor).

        With ``pipeline``, the statements go in the same round trip (psycopg pipeline
        mode, for server-side binding); without it (utility statements, which refuse the
        pipeline's implicit transaction, several statements in one string, which the
        extended protocol refuses, executemany, named cursors), one after the other.
        """
        connection = self.connection
        ok = False
        try:
            if pipeline:
                with connection.pipeline():
                    result = _around(connection, plan, run)
            else:
                result = _around(connection, plan, run)
            ok = True
            return result
        finally:
            if not ok and plan.own_transaction:
                _end_failed_transaction(connection)
            plan.scope.done(connection, plan, ok)

    def apply_search_path(self) -> None:
        """Bring the session's search_path to the active context's now (session scope)."""
        self.ensure_connection()
        plan = self.search_path_plan()
        if plan is not None:
            with self.wrap_database_errors:
                self.run_planned(plan, lambda: None, pipeline=False)

    def prepare_copy(self) -> None:
        if tenancy_settings.SEARCH_PATH_SCOPE == "transaction" and self.get_autocommit():
            raise NotSupportedError(
                "COPY outside a transaction cannot carry a transaction-scoped search_path "
                '(TENANCY["SEARCH_PATH_SCOPE"] = "transaction"): run it inside '
                "transaction.atomic()."
            )
        self.apply_search_path()

    def _commit(self) -> None:
        super()._commit()  # type: ignore[misc]
        if self.connection is not None:
            SessionSearchPath.of(self.connection).committed()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            if self.connection is not None:
                SessionSearchPath.of(self.connection).rolled_back(to_savepoint=False)

    def _savepoint_rollback(self, sid: str) -> None:
        try:
            super()._savepoint_rollback(sid)  # type: ignore[misc]
        finally:
            if self.connection is not None:
                SessionSearchPath.of(self.connection).rolled_back(to_savepoint=True)

    def close_if_unusable_or_obsolete(self) -> None:
        """Also recycle a connection that has visited too many schemas.

        Each schema a server session touches grows its catalog caches (about 36 MB after
        1,000 schemas); ``TENANCY["MAX_SCHEMAS_PER_CONNECTION"]`` bounds that. Checked
        before Django's own checks: with the pool (``CONN_MAX_AGE`` 0) those hand the
        connection back to the pool, after which it could not be looked at.
        """
        limit = tenancy_settings.MAX_SCHEMAS_PER_CONNECTION
        connection = self.connection
        if (
            limit is not None
            and connection is not None
            and not self.in_atomic_block
            and len(SessionSearchPath.of(connection).visited) > limit
        ):
            if self.pool:
                connection.close()  # the pool discards a closed connection given back
            self.close()
            return
        super().close_if_unusable_or_obsolete()


if not TYPE_CHECKING:
    # Over TENANCY["BASE_BACKEND"] (e.g. PostGIS) when the project names one.
    DatabaseWrapper = over_base_backend(DatabaseWrapper)
