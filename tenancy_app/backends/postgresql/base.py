"""Django's PostgreSQL backend with a search_path that follows the active tenant.

Before a statement runs, :meth:`DatabaseWrapper.apply_search_path` compares the
search_path the current context wants with the one the server session has
(:mod:`.session`) and sends ``SET search_path`` only when they differ.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base as postgresql
from django.db.backends.utils import CursorWrapper as DjangoCursorWrapper
from psycopg.pq import TransactionStatus

from ...conf import tenancy_settings
from ...context import get_search_path
from ...names import search_path_sql
from .introspection import DatabaseIntrospection
from .session import SessionSearchPath


class SearchPathCursorMixin:
    """Applies the active search_path before every statement of a Django cursor."""

    db: DatabaseWrapper
    cursor: Any

    def execute(self, sql: Any, params: Any = None) -> Any:
        self.db.apply_search_path()
        return super().execute(sql, params)  # type: ignore[misc]

    def executemany(self, sql: Any, param_list: Any) -> Any:
        self.db.apply_search_path()
        return super().executemany(sql, param_list)  # type: ignore[misc]

    def callproc(self, procname: str, params: Any = None, kparams: Any = None) -> Any:
        self.db.apply_search_path()
        return super().callproc(procname, params, kparams)  # type: ignore[misc]

    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self.db.apply_search_path()
        return self.cursor.copy(statement, *args, **kwargs)


class CursorWrapper(SearchPathCursorMixin, DjangoCursorWrapper):
    pass


class CursorDebugWrapper(SearchPathCursorMixin, postgresql.CursorDebugWrapper):
    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self.db.apply_search_path()
        return postgresql.CursorDebugWrapper.copy(self, statement, *args, **kwargs)


class DatabaseWrapper(postgresql.DatabaseWrapper):
    introspection_class = DatabaseIntrospection

    def make_cursor(self, cursor: Any) -> CursorWrapper:
        return CursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> CursorDebugWrapper:
        return CursorDebugWrapper(cursor, self)

    def apply_search_path(self) -> None:
        """Make the session's search_path the one the current context wants."""
        connection = self.connection
        if connection is None:  # pragma: no cover - a cursor always has a connection
            return
        wanted = get_search_path()
        session = SessionSearchPath.of(connection)
        if session.current(connection) == wanted:
            return
        if connection.pgconn.transaction_status == TransactionStatus.INERROR:
            # The transaction is aborted: only a rollback (which this very statement may
            # be) can run, and after it the search_path is checked again.
            return
        statement = search_path_sql(wanted)
        in_transaction = not connection.autocommit
        start = time.monotonic()
        with self.wrap_database_errors, connection.cursor() as cursor:
            cursor.execute(statement)
        session.record_sent(wanted, in_transaction=in_transaction)
        if self.queries_logged:
            self.queries_log.append(
                {
                    "sql": statement.as_string(connection),
                    "time": f"{time.monotonic() - start:.3f}",
                }
            )

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
