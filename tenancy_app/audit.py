"""The audit trail: who did what to which tenant, when, and how it ended.

Every lifecycle operation (provision, clone, rename, suspend, activate, delete, migrate,
dump, restore, and the repairs of ``check_tenants``) writes one
:class:`~tenancy_app.models.AuditEntry` in the shared schema, through one small API:

- :func:`operation` (a context manager) and :func:`audited` (the same as a decorator)
  around an operation: a *succeeded* entry is written on the operation's connection,
  inside the caller's transaction if there is one, so an operation rolled back later
  leaves no entry claiming it succeeded; a *failed* entry (with the error) is written
  on a connection of its own when the failure happens inside a transaction (which is
  about to roll back), so it is kept whatever the caller's transaction does. An
  operation run inside another (a restore that migrates) is recorded once, as the
  outer one.
- :func:`acting_as` names who is acting for a block: the admin sets the signed-in
  user, the management commands the operating-system user and ``manage.py <command>``;
  elsewhere it is the operating-system user and the program's name.
- :func:`record_migrations` writes the entries of a ``migrate_schemas`` run (one per
  schema migrated or failed; schemas already up to date write nothing).

``TENANCY["AUDIT_RETENTION_DAYS"]`` prunes older entries whenever entries are written.
"""

from __future__ import annotations

import datetime
import functools
import getpass
import inspect
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, ProgrammingError, connections
from django.utils import timezone
from psycopg import sql

from .conf import tenancy_settings
from .context import public_context
from .exceptions import describe_error
from .models import AuditAction, AuditEntry, TenantBase

if TYPE_CHECKING:
    from .migrator.results import SchemaResult

__all__ = [
    "Action",
    "Actor",
    "Operation",
    "acting_as",
    "audited",
    "current_actor",
    "operation",
    "prune",
    "record",
    "record_migrations",
]

Action = AuditAction
F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user name, and through what (``admin``, ``manage.py create_tenant``)."""

    name: str
    via: str


_actor: ContextVar[Actor | None] = ContextVar("tenancy_audit_actor", default=None)
_inside: ContextVar[bool] = ContextVar("tenancy_audit_inside", default=False)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no USER variable and no passwd entry (some containers)
        return f"uid {os.getuid()}"


def current_actor() -> Actor:
    """The actor set by :func:`acting_as`, else the OS user and the program's name."""
    actor = _actor.get()
    if actor is not None:
        return actor
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return Actor(_os_user(), program)


@contextmanager
def acting_as(name: str, via: str) -> Iterator[Actor]:
    """Record the operations of this block as done by ``name`` through ``via``."""
    actor = Actor(name[:150], via[:100])
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def command_actor(command_name: str) -> Any:
    """What a management command acts as: the OS user, through ``manage.py <command>``."""
    return acting_as(_os_user(), f"manage.py {command_name}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, TenantBase):
        return value.schema_name
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    return str(value)


def _describe_failure(exc: BaseException) -> str:
    """The error of a failed operation, with its type (an audit reader wants both)."""
    message = describe_error(exc)
    name = type(exc).__name__
    return message if message.startswith(f"{name}: ") else f"{name}: {message}"


@dataclass(slots=True)
class Operation:
    """What :func:`operation` records; the operation may fill in what it learns."""

    action: str
    schema_name: str
    tenant_key: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)

    def set_tenant(self, tenant: TenantBase) -> None:
        """Name the tenant the operation made (its primary key is known only now)."""
        self.tenant_key = str(tenant.pk) if tenant.pk is not None else self.tenant_key


def _entry(
    op: Operation, outcome: str, started: datetime.datetime, seconds: float, error: str = ""
) -> AuditEntry:
    actor = current_actor()
    return AuditEntry(
        action=op.action,
        outcome=outcome,
        schema_name=op.schema_name[:63],
        tenant_key=op.tenant_key[:64],
        actor=actor.name,
        via=actor.via,
        parameters=_jsonable(op.parameters),
        error=error,
        started_at=started,
        duration=datetime.timedelta(seconds=seconds),
    )


def _write(entries: Sequence[AuditEntry], using: str) -> None:
    """Insert ``entries`` in the current transaction, if any (one statement per 1,000).

    Outside a transaction, a shared schema not yet migrated to tenancy_app 0004 (a
    ``migrate_schemas --tenants`` run before ``--shared``) records nothing, with a
    warning; inside one, the error is raised (the shared schema must be migrated).
    """
    connection = connections[using]
    try:
        with public_context():
            AuditEntry.objects.using(using).bulk_create(entries, batch_size=1000)
            prune(using=using)
    except ProgrammingError as exc:
        if connection.in_atomic_block or not isinstance(
            exc.__cause__, psycopg.errors.UndefinedTable
        ):
            raise
        logger.warning(
            "The audit trail table does not exist yet (run `manage.py migrate_schemas "
            "--shared`): %d entries not recorded.",
            len(entries),
        )


def _write_on_own_connection(entry: AuditEntry, using: str) -> None:
    """Write ``entry`` and commit it on a new connection: the caller's transaction, which
    failed, is about to be rolled back and would take the entry with it."""
    own = connections.create_connection(using)
    try:
        own.connect()
        own.set_autocommit(True)
        fields = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]
        values = [f.get_db_prep_save(f.pre_save(entry, True), own) for f in fields]
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(tenancy_settings.PUBLIC_SCHEMA, AuditEntry._meta.db_table),
            sql.SQL(", ").join([sql.Identifier(f.column) for f in fields if f.column]),
            sql.SQL(", ").join(sql.Placeholder() for _ in fields),
        )
        with public_context(), own.cursor() as cursor:
            cursor.execute(statement, values)
    finally:
        own.close()


def _record(
    op: Operation,
    outcome: str,
    started: datetime.datetime,
    seconds: float,
    error: str,
    using: str,
) -> None:
    entry = _entry(op, outcome, started, seconds, error)
    try:
        if outcome == AuditEntry.Outcome.FAILED and connections[using].in_atomic_block:
            _write_on_own_connection(entry, using)
        else:
            _write([entry], using)
    except Exception:
        if outcome == AuditEntry.Outcome.SUCCEEDED:
            raise  # the caller's transaction must not commit an operation left unrecorded
        # Never hide the operation's own error behind a failure to record it.
        logger.exception("Could not record the failed %s of %r.", op.action, op.schema_name)


@contextmanager
def operation(
    action: str,
    tenant: TenantBase | str,
    parameters: dict[str, Any] | None = None,
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> Iterator[Operation]:
    """Record the operation run in this block on ``tenant`` (an instance or a schema name).

    Succeeded: one entry on ``using``'s connection, in the caller's transaction if any.
    Raised: one failed entry with the error, kept even when the transaction rolls back;
    the exception propagates unchanged. A ``ValidationError`` (bad input, refused before
    anything was done) and anything inside another recorded operation: no entry.
    """
    if _inside.get():
        yield Operation(action, "")
        return
    if isinstance(tenant, TenantBase):
        op = Operation(action, tenant.schema_name, parameters=dict(parameters or {}))
        op.set_tenant(tenant)
    else:
        op = Operation(action, tenant, parameters=dict(parameters or {}))
    token = _inside.set(True)
    started, clock = timezone.now(), time.monotonic()
    try:
        yield op
    except ValidationError:
        _inside.reset(token)  # bad input, refused before anything was done: not an operation
        raise
    except BaseException as exc:
        _inside.reset(token)
        seconds = time.monotonic() - clock
        _record(op, AuditEntry.Outcome.FAILED, started, seconds, _describe_failure(exc), using)
        raise
    _inside.reset(token)
    _record(op, AuditEntry.Outcome.SUCCEEDED, started, time.monotonic() - clock, "", using)


def audited(
    action: str,
    *,
    tenant: str | None = None,
    schema: str | None = None,
    parameters: Iterable[str] = (),
) -> Callable[[F], F]:
    """Decorate a lifecycle function so each call is recorded by :func:`operation`.

    ``tenant`` names the argument holding the tenant instance, or ``schema`` the one
    holding the schema name; ``parameters`` names the arguments recorded with the entry
    (a tenant is recorded by its schema name). When the function returns a tenant, the
    entry names it. ``using`` is taken from the function's own argument of that name.
    """
    names = tuple(parameters)

    def decorate(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            target = arguments[tenant] if tenant else str(arguments[schema or "schema_name"])
            recorded = {name: arguments.get(name) for name in names}
            using = arguments.get("using") or DEFAULT_DB_ALIAS
            with operation(action, target, recorded, using=using) as op:
                result = func(*args, **kwargs)
                if isinstance(result, TenantBase):
                    op.set_tenant(result)
                return result

        return wrapper  # type: ignore[return-value]

    return decorate


def record(
    action: str,
    tenants: Iterable[TenantBase],
    parameters: dict[str, Any] | None = None,
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """One *succeeded* entry per tenant for an operation done to many at once (in one
    statement), in the caller's transaction."""
    if _inside.get():
        return
    now = timezone.now()
    entries = []
    for tenant in tenants:
        op = Operation(action, tenant.schema_name, parameters=dict(parameters or {}))
        op.set_tenant(tenant)
        entries.append(_entry(op, AuditEntry.Outcome.SUCCEEDED, now, 0.0))
    if entries:
        _write(entries, using)


def record_migrations(
    results: Sequence[SchemaResult], *, using: str = DEFAULT_DB_ALIAS, fake: bool = False
) -> None:
    """One entry per schema a ``migrate_schemas`` run migrated or failed, in one statement
    per 1,000; schemas already up to date write nothing. Tenants are named by schema."""
    from .migrator.results import Outcome

    if _inside.get():
        return
    entries = []
    for result in results:
        if result.outcome not in (Outcome.MIGRATED, Outcome.FAILED):
            continue
        op = Operation(
            AuditAction.MIGRATE, result.schema_name, parameters={"migrations": list(result.ran)}
        )
        if result.pending:
            op.parameters["pending"] = result.pending
        if fake:
            op.parameters["fake"] = True
        entries.append(
            _entry(
                op,
                AuditEntry.Outcome.SUCCEEDED
                if result.outcome is Outcome.MIGRATED
                else AuditEntry.Outcome.FAILED,
                result.started_at,
                (result.finished_at - result.started_at).total_seconds(),
                result.error,
            )
        )
    if entries:
        _write(entries, using)


def prune(*, using: str = DEFAULT_DB_ALIAS) -> int:
    """Delete the entries older than ``TENANCY["AUDIT_RETENTION_DAYS"]`` (if set)."""
    days = tenancy_settings.AUDIT_RETENTION_DAYS
    if days is None:
        return 0
    cutoff = timezone.now() - datetime.timedelta(days=days)
    with public_context():
        deleted, _ = AuditEntry.objects.using(using).filter(started_at__lt=cutoff).delete()
    return deleted
