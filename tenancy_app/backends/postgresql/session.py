"""What search_path a physical server session really has.

The state lives on the psycopg connection object itself, not on Django's wrapper, so
it stays true when Django's psycopg pool hands the same physical connection to another
thread, and starts afresh (unknown) on a reconnect.

From PostgreSQL 18 on the server reports search_path changes to the client
(ParameterStatus), so the answer is exact whatever ran on the session: a rollback, a
``ROLLBACK TO SAVEPOINT``, or raw SQL. Older servers do not, so the value this app last
sent is remembered; a value sent inside a transaction is *tentative* until that
transaction commits, because PostgreSQL undoes SET when it rolls back.
"""

from __future__ import annotations

import psycopg
from psycopg.pq import TransactionStatus

from ...names import parse_search_path

_ATTRIBUTE = "_tenancy_search_path"


class SessionSearchPath:
    __slots__ = (
        "_cursor",
        "_reported_parsed",
        "_reported_raw",
        "local",
        "sent",
        "tentative",
        "visited",
    )

    def __init__(self) -> None:
        #: transaction scope: the SET LOCAL of the transaction in progress
        self.local: tuple[str, ...] | None = None
        self.sent: tuple[str, ...] | None = None
        self.tentative = False
        self.visited: set[str] = set()
        self._reported_raw: bytes | None = None
        self._cursor: psycopg.Cursor[object] | None = None
        self._reported_parsed: tuple[str, ...] = ()

    @classmethod
    def of(cls, connection: psycopg.Connection[object]) -> SessionSearchPath:
        state: SessionSearchPath | None = getattr(connection, _ATTRIBUTE, None)
        if state is None:
            state = cls()
            setattr(connection, _ATTRIBUTE, state)
        return state

    def cursor(self, connection: psycopg.Connection[object]) -> psycopg.Cursor[object]:
        """A plain cursor of this connection for the backend's own SETs, made once."""
        if self._cursor is None or self._cursor.closed:
            self._cursor = psycopg.Cursor(connection)
        return self._cursor

    def current(self, connection: psycopg.Connection[object]) -> tuple[str, ...] | None:
        """The session's search_path, or ``None`` when it cannot be known without asking."""
        # libpq's raw bytes: this runs before every statement, and the decoded value
        # is only needed when it changes.
        reported = connection.pgconn.parameter_status(b"search_path")
        if reported is not None:
            if reported != self._reported_raw:
                self._reported_raw = reported
                self._reported_parsed = parse_search_path(reported.decode())
            return self._reported_parsed
        if self.tentative and connection.pgconn.transaction_status == TransactionStatus.IDLE:
            # The transaction that carried our SET ended outside Django's commit()
            # (raw SQL or the psycopg connection): it may have been rolled back.
            self.forget()
        return self.sent

    def record_sent(self, search_path: tuple[str, ...], *, in_transaction: bool) -> None:
        self.sent = search_path
        self.tentative = in_transaction
        self.visited.add(search_path[0])

    def committed(self) -> None:
        self.tentative = False

    def rolled_back(self, *, to_savepoint: bool) -> None:
        self.local = None
        if not to_savepoint or self.tentative:
            self.forget()

    def forget(self) -> None:
        self.sent = None
        self.tentative = False
