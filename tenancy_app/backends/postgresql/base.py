"""Django's PostgreSQL backend with a search_path that follows the active tenant.

Every statement of a Django cursor first asks :meth:`DatabaseWrapper.search_path_plan`,
which checks the active context's lease (:mod:`tenancy_app.leases`) and asks the
configured scope (:mod:`.scopes`) what, if anything, must be sent first:
with the default session scope, a ``SET search_path`` only when the server session's
differs from the one the current context wants (:mod:`.session`), and then in the same
round trip as the statement: :meth:`DatabaseWrapper.run_inline` (in the statement's own
message) or :meth:`DatabaseWrapper.run_planned` (pipelined, or before it).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from django.db import NotSupportedError
from django.db.backends.postgresql import base as postgresql
from django.db.backends.utils import CursorWrapper as DjangoCursorWrapper
from psycopg.pq import TransactionStatus

from ...conf import tenancy_settings
from ...context import get_active_schema
from ...leases import renew
from .base_backend import over_base_backend
from .introspection import DatabaseIntrospection
from .scopes import SCOPES, Plan
from .session import SessionSearchPath

T = TypeVar("T")
_PIPELINE_SUPPORTED = psycopg.Pipeline.is_supported()


_DML = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES", "TABLE"})


def _is_dml(statement: Any) -> bool:
    """Whether ``statement`` may share an implicit transaction with the SET before it.

    Pipelined statements up to one Sync form one implicit transaction, which some
    statements refuse (CREATE DATABASE, VACUUM, CREATE INDEX CONCURRENTLY, ...): only
    plain DML (what the ORM sends on the request path) is pipelined.
    """
    if not isinstance(statement, str):
        return False
    words = statement.lstrip(" \t\n(").split(None, 1)
    return bool(words) and words[0].upper() in _DML


def _can_pipeline(connection: psycopg.Connection[Any], cursor: Any) -> bool:
    return (
        _PIPELINE_SUPPORTED
        and connection._pipeline is None
        and not isinstance(cursor, psycopg.ServerCursor)
    )


def _can_inline(connection: psycopg.Connection[Any], cursor: Any) -> bool:
    """A client-side-binding cursor sends its statement with the simple query protocol,
    where one message may hold several statements."""
    return isinstance(cursor, psycopg.ClientCursor) and connection._pipeline is None


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


class SearchPathCursorMixin:
    """Gives every statement of a Django cursor the search_path of the active context.

    The common case, the session already has the wanted search_path, is one comparison
    and then Django's own ``execute``.
    """

    db: DatabaseWrapper
    cursor: Any

    def execute(self, sql: Any, params: Any = None) -> Any:
        plan = self.db.search_path_plan()
        if plan is None:
            return super().execute(sql, params)  # type: ignore[misc]
        dml = _is_dml(sql)
        if dml and plan.inline and _can_inline(self.db.connection, self.cursor):
            execute = super().execute  # type: ignore[misc]
            return self.db.run_inline(plan, self.cursor, execute, sql, params)
        run = functools.partial(super().execute, sql, params)  # type: ignore[misc]
        return self.db.run_planned(plan, self.cursor, run, pipeline=dml)

    def executemany(self, sql: Any, param_list: Any) -> Any:
        plan = self.db.search_path_plan()
        if plan is None:
            return super().executemany(sql, param_list)  # type: ignore[misc]
        run = functools.partial(super().executemany, sql, param_list)  # type: ignore[misc]
        return self.db.run_planned(plan, self.cursor, run, pipeline=False)

    def callproc(self, procname: str, params: Any = None, kparams: Any = None) -> Any:
        plan = self.db.search_path_plan()
        if plan is None:
            return super().callproc(procname, params, kparams)  # type: ignore[misc]
        run = functools.partial(super().callproc, procname, params, kparams)  # type: ignore[misc]
        return self.db.run_planned(plan, self.cursor, run, pipeline=False)

    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self.db.prepare_copy()
        return self.cursor.copy(statement, *args, **kwargs)


class CursorWrapper(SearchPathCursorMixin, DjangoCursorWrapper):
    pass


class CursorDebugWrapper(SearchPathCursorMixin, postgresql.CursorDebugWrapper):
    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self.db.prepare_copy()
        return postgresql.CursorDebugWrapper.copy(self, statement, *args, **kwargs)


class DatabaseWrapper(postgresql.DatabaseWrapper):
    introspection_class = DatabaseIntrospection

    def make_cursor(self, cursor: Any) -> CursorWrapper:
        return CursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> CursorDebugWrapper:
        return CursorDebugWrapper(cursor, self)

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
        """Send ``plan``'s SET and the statement as one message: ``SET ...; SELECT ...``.

        (Django's default psycopg cursor binds parameters client-side and uses the simple
        query protocol.) The server runs both in one implicit transaction, so a failing
        statement takes the SET with it; the cursor is then moved on to the statement's
        own result.
        """
        prefix = b"; ".join(plan.before).decode() + "; "
        logged = self.queries_logged
        if logged:
            for statement in plan.before:
                self.queries_log.append({"sql": statement.decode(), "time": "0.000"})
        ok = False
        try:
            result = execute(prefix + sql, params)
            for _ in plan.before:
                cursor.nextset()
            ok = True
        finally:
            plan.scope.done(self.connection, plan, ok)
            if logged and self.queries_log:
                # Django logged the message as sent; keep the statement's own text.
                entry = self.queries_log[-1]
                if entry["sql"].startswith(prefix):
                    entry["sql"] = entry["sql"][len(prefix) :]
        return result

    def run_planned(self, plan: Plan, cursor: Any, run: Callable[[], T], *, pipeline: bool) -> T:
        """Send ``plan``'s statements around ``run`` (one statement of ``cursor``).

        The ``SET`` goes in the same round trip as the statement (psycopg pipeline mode),
        unless ``cursor`` is server-side or ``pipeline`` is false (executemany and
        callproc keep their own protocol, utility statements refuse the pipeline's
        implicit transaction).
        """
        connection = self.connection
        if self.queries_logged:  # logged in the order they are sent
            for statement in (*plan.before, *plan.after):
                self.queries_log.append({"sql": statement.decode(), "time": "0.000"})
        ok = False
        try:
            with self.wrap_database_errors:
                if pipeline and _can_pipeline(connection, cursor):
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
            self.run_planned(plan, None, lambda: None, pipeline=False)

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
