"""The psycopg cursors of the backend: each statement gets the active context's search_path.

The search_path is applied here, at the bottom of Django's stack, *below* Django's
``CursorWrapper``: ``connection.execute_wrapper()`` hooks, the query log
(``connection.queries``, ``assertNumQueries``, ``CaptureQueriesContext``) and the
``django.db.backends`` logger see each statement exactly as stock Django sends it. The
``SET search_path`` / ``BEGIN`` / ``SET LOCAL`` / ``COMMIT`` that travel with it are the
backend's own business and never show there.

Only cursors made by :meth:`DatabaseWrapper.create_cursor` (the ones Django's wrappers
hold) do this; a cursor opened on the raw psycopg connection (``connection.connection``)
is left alone, as with stock Django.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

import psycopg
from django.db import NotSupportedError
from django.db.backends.postgresql import base as postgresql
from psycopg.pq import PipelineStatus

if TYPE_CHECKING:
    from .base import DatabaseWrapper

_PIPELINE_SUPPORTED = psycopg.Pipeline.is_supported()
_DML = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES", "TABLE"})
NOTHING_AROUND = ("", "")


def is_dml(statement: Any) -> bool:
    """Whether ``statement`` may share an implicit transaction with the SET before it.

    Statements sent together (one simple-protocol message, or pipelined up to one Sync)
    form one implicit transaction, which some statements refuse (CREATE DATABASE,
    VACUUM, CREATE INDEX CONCURRENTLY, ...): only plain DML (what the ORM sends on the
    request path) travels with the SET.
    """
    if not isinstance(statement, str):
        return False
    words = statement.lstrip(" \t\n(").split(None, 1)
    return bool(words) and words[0].upper() in _DML


def is_pipelinable(statement: Any) -> bool:
    """DML that the extended protocol (pipeline mode) accepts: one statement only.

    Django's schema editor sends ``UPDATE ...; SET CONSTRAINTS ALL IMMEDIATE`` as one
    string, which only the simple protocol runs. Any ``;`` counts, even one inside a
    literal: such a statement merely takes a round trip more.
    """
    return is_dml(statement) and ";" not in statement


# Statements PostgreSQL refuses to run inside a transaction block. The first kind names
# no schema object (a database, a tablespace, the server's settings): it needs no
# search_path. The second kind does, and the transaction scope can only give it one
# inside a transaction.
_GLOBAL_OUTSIDE_TRANSACTION = re.compile(
    r"\s*(?:(?:CREATE|DROP|ALTER)\s+(?:DATABASE|TABLESPACE)|ALTER\s+SYSTEM)\b", re.IGNORECASE
)
_SCHEMA_OUTSIDE_TRANSACTION = re.compile(
    r"\s*(?:(?:CREATE\s+(?:UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY"
    r"|REINDEX\b.*\bCONCURRENTLY|VACUUM|CLUSTER"
    r"|ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY)\b",
    re.IGNORECASE | re.DOTALL,
)


def refuses_transaction(statement: Any) -> bool:
    """Whether ``statement`` cannot be given a transaction of its own (and so no
    transaction-scoped search_path); raises for those that need a search_path."""
    if not isinstance(statement, str) or is_dml(statement):
        return False
    if _GLOBAL_OUTSIDE_TRANSACTION.match(statement):
        return True
    if _SCHEMA_OUTSIDE_TRANSACTION.match(statement):
        raise NotSupportedError(
            f"{' '.join(statement.split()[:4])} ... cannot run inside a transaction, and "
            'TENANCY["SEARCH_PATH_SCOPE"] = "transaction" gives each statement outside '
            "transaction.atomic() a transaction of its own to carry its search_path. Run "
            "it over a direct connection with the session scope (see "
            '"Statements that refuse a transaction" in docs/deployment.rst).'
        )
    return False


class SearchPathCursorMixin:
    """Mixed into every psycopg cursor class the backend's connections make."""

    #: the DatabaseWrapper that made this cursor; None (raw psycopg use): left alone
    tenancy_db: DatabaseWrapper | None = None
    #: text the last ``execute`` sent before and after the caller's statement in the same
    #: message, for :meth:`.operations.DatabaseOperations.last_executed_query`
    sent_around: tuple[str, str] = NOTHING_AROUND

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        db = self.tenancy_db
        if db is None:
            return super().execute(query, params, **kwargs)  # type: ignore[misc]
        self.sent_around = NOTHING_AROUND
        plan = db.search_path_plan()
        if plan is None or (plan.own_transaction and refuses_transaction(query)):
            return super().execute(query, params, **kwargs)  # type: ignore[misc]
        off = db.connection.pgconn.pipeline_status == PipelineStatus.OFF
        if off and isinstance(self, psycopg.ClientCursor) and is_dml(query):
            execute = functools.partial(super().execute, **kwargs)  # type: ignore[misc]
            return db.run_inline(plan, self, execute, query, params)
        run = functools.partial(super().execute, query, params, **kwargs)  # type: ignore[misc]
        pipeline = (
            off
            and _PIPELINE_SUPPORTED
            and not isinstance(self, psycopg.ServerCursor)
            and is_pipelinable(query)
        )
        return db.run_planned(plan, run, pipeline=pipeline)

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        db = self.tenancy_db
        if db is None:
            return super().executemany(query, params_seq, **kwargs)  # type: ignore[misc]
        self.sent_around = NOTHING_AROUND
        plan = db.search_path_plan()
        if plan is None:
            return super().executemany(query, params_seq, **kwargs)  # type: ignore[misc]
        run = functools.partial(super().executemany, query, params_seq, **kwargs)  # type: ignore[misc]
        return db.run_planned(plan, run, pipeline=False)

    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if self.tenancy_db is not None:
            self.tenancy_db.prepare_copy()
        return super().copy(statement, *args, **kwargs)  # type: ignore[misc]


# Django's cursor classes (client-side binding by default, server-side binding with
# OPTIONS["server_side_binding"], and the two kinds of named cursors for .iterator()).


class Cursor(SearchPathCursorMixin, postgresql.Cursor):
    pass


class ServerBindingCursor(SearchPathCursorMixin, postgresql.ServerBindingCursor):
    pass


class ServerSideCursor(SearchPathCursorMixin, postgresql.ServerSideCursor):
    pass


class ServerCursor(SearchPathCursorMixin, psycopg.ServerCursor[Any]):
    pass


@functools.cache
def with_search_path(cursor_class: type[Any]) -> type[Any]:
    """The search_path-aware subclass of ``cursor_class`` (Django's, or a project's
    ``OPTIONS["cursor_factory"]``)."""
    if issubclass(cursor_class, SearchPathCursorMixin):
        return cursor_class
    known = {postgresql.Cursor: Cursor, postgresql.ServerBindingCursor: ServerBindingCursor}
    if cursor_class in known:
        return known[cursor_class]
    return type(cursor_class.__name__, (SearchPathCursorMixin, cursor_class), {})
