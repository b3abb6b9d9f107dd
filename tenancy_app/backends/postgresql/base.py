"""Django's PostgreSQL backend with a search_path that follows the active tenant.

Every statement of a Django cursor goes through :meth:`DatabaseWrapper.run_in_search_path`,
which asks the configured scope (:mod:`.scopes`) what, if anything, must be sent first:
with the default session scope, a ``SET search_path`` only when the server session's
differs from the one the current context wants (:mod:`.session`), and then in the same
round trip as the statement.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from django.db import NotSupportedError
from django.db.backends.postgresql import base as postgresql
from django.db.backends.utils import CursorWrapper as DjangoCursorWrapper
from psycopg.pq import TransactionStatus

from ...conf import tenancy_settings
from ...context import get_search_path
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


def _around(connection: psycopg.Connection[Any], plan: Plan, run: Callable[[], T]) -> T:
    for statement in plan.before:
        connection.execute(statement)
    result = run()
    for statement in plan.after:
        connection.execute(statement)
    return result


def _end_failed_transaction(connection: psycopg.Connection[Any]) -> None:
    """Roll back the transaction opened for one autocommit statement that failed."""
    if connection.closed or connection.pgconn.transaction_status == TransactionStatus.IDLE:
        return
    with contextlib.suppress(psycopg.Error):
        connection.execute("ROLLBACK")


class SearchPathCursorMixin:
    """Gives every statement of a Django cursor the search_path of the active context."""

    db: DatabaseWrapper
    cursor: Any

    def execute(self, sql: Any, params: Any = None) -> Any:
        run = functools.partial(super().execute, sql, params)  # type: ignore[misc]
        return self.db.run_in_search_path(self.cursor, run, pipeline=_is_dml(sql))

    def executemany(self, sql: Any, param_list: Any) -> Any:
        run = functools.partial(super().executemany, sql, param_list)  # type: ignore[misc]
        return self.db.run_in_search_path(self.cursor, run, pipeline=False)

    def callproc(self, procname: str, params: Any = None, kparams: Any = None) -> Any:
        run = functools.partial(super().callproc, procname, params, kparams)  # type: ignore[misc]
        return self.db.run_in_search_path(self.cursor, run, pipeline=False)

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

    def run_in_search_path(self, cursor: Any, run: Callable[[], T], *, pipeline: bool) -> T:
        """Run ``run`` (one statement of ``cursor``) under the active context's search_path.

        When the server session must be told first, the ``SET`` goes in the same round
        trip as the statement (psycopg pipeline mode), unless ``cursor`` is server-side
        or ``pipeline`` is false (executemany and callproc keep their own protocol).
        """
        connection = self.connection
        if connection.pgconn.transaction_status == TransactionStatus.INERROR:
            # Only a rollback (which this very statement may be) can run now; the
            # search_path is looked at again after it.
            return run()
        wanted = get_search_path()
        scope = SCOPES[tenancy_settings.SEARCH_PATH_SCOPE]
        plan = scope.plan(connection, wanted)
        if plan is None:
            return run()
        start = time.monotonic()
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
            scope.done(connection, wanted, plan, ok)
            if self.queries_logged:
                elapsed = f"{time.monotonic() - start:.3f}"
                for statement in (*plan.before, *plan.after):
                    self.queries_log.append(
                        {"sql": statement.as_string(connection), "time": elapsed}
                    )

    def apply_search_path(self) -> None:
        """Bring the session's search_path to the active context's now (session scope)."""
        self.ensure_connection()
        self.run_in_search_path(None, lambda: None, pipeline=False)

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
        1,000 schemas); ``TENANCY["MAX_SCHEMAS_PER_CONNECTION"]`` bounds that.
        """
        super().close_if_unusable_or_obsolete()
        limit = tenancy_settings.MAX_SCHEMAS_PER_CONNECTION
        connection = self.connection
        if limit is None or connection is None or self.in_atomic_block:
            return
        if len(SessionSearchPath.of(connection).visited) > limit:
            if self.pool:
                connection.close()  # the pool discards a closed connection
            self.close()
