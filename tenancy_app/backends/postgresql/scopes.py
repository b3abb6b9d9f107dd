"""How long a ``SET search_path`` lasts: the session (default) or one transaction.

``session`` (``TENANCY["SEARCH_PATH_SCOPE"] = "session"``): the server session keeps the
search_path; it is sent only when the session's differs from the wanted one (see
:mod:`.session`). Right for direct connections and Django's own pool.

``transaction``: for PgBouncer in transaction pooling mode (and RDS Proxy), where each
transaction may run on another server session. Every transaction carries its own
``SET LOCAL search_path`` as its first statement (and again when the context changes
inside it); a statement in autocommit mode is given a transaction of its own
(``BEGIN``; ``SET LOCAL``; the statement; ``COMMIT``, in one round trip: one message with
client-side binding, pipelined with server-side binding).
Nothing is ever left on a server session for the next client to inherit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from ...names import search_path_sql
from .session import SessionSearchPath

BEGIN = b"BEGIN"
COMMIT = b"COMMIT"


@dataclass(frozen=True, slots=True)
class Plan:
    """Statements to send around the caller's statement to give it the wanted search_path."""

    scope: SessionScope | TransactionScope
    wanted: tuple[str, ...]
    before: tuple[bytes, ...]
    after: tuple[bytes, ...] = ()

    @property
    def own_transaction(self) -> bool:
        return bool(self.after)


# The statements are rendered once per search_path (identifiers quoted by psycopg) and
# kept: a tenant switch then costs no SQL composition on the request path.


@lru_cache(maxsize=20_000)
def _set_statement(schemas: tuple[str, ...]) -> bytes:
    return search_path_sql(schemas).as_bytes(None)


@lru_cache(maxsize=20_000)
def _set_local_statement(schemas: tuple[str, ...]) -> bytes:
    return (
        sql.SQL("SET LOCAL search_path TO {}")
        .format(sql.SQL(", ").join(sql.Identifier(schema) for schema in schemas))
        .as_bytes(None)
    )


class SessionScope:
    name = "session"

    def plan(self, connection: psycopg.Connection[object], wanted: tuple[str, ...]) -> Plan | None:
        if SessionSearchPath.of(connection).current(connection) == wanted:
            return None
        return Plan(self, wanted, (_set_statement(wanted),))

    def done(self, connection: psycopg.Connection[object], plan: Plan, ok: bool) -> None:
        state = SessionSearchPath.of(connection)
        if ok:
            state.record_sent(plan.wanted, in_transaction=not connection.autocommit)
        else:
            state.forget()  # the SET may have been rolled back with the failed statement


class TransactionScope:
    name = "transaction"

    def plan(self, connection: psycopg.Connection[object], wanted: tuple[str, ...]) -> Plan | None:
        set_local = _set_local_statement(wanted)
        if connection.autocommit:
            return Plan(self, wanted, (BEGIN, set_local), (COMMIT,))
        state = SessionSearchPath.of(connection)
        if connection.pgconn.transaction_status == TransactionStatus.IDLE:
            state.local = None  # this statement opens a new transaction
        if state.local == wanted:
            return None
        return Plan(self, wanted, (set_local,))

    def done(self, connection: psycopg.Connection[object], plan: Plan, ok: bool) -> None:
        state = SessionSearchPath.of(connection)
        state.visited.add(plan.wanted[0])
        state.local = plan.wanted if ok and not plan.own_transaction else None


SCOPES: dict[str, SessionScope | TransactionScope] = {
    "session": SessionScope(),
    "transaction": TransactionScope(),
}
