"""Leases: how long this process may use a schema before it asks the registry again.

Every process caches what it read from the registry (which tenant a host names, which
schema a tenant has). Another process may delete, rename or suspend that tenant at any
time; if the schema were then gone, PostgreSQL would skip it on the search_path and run
the statements in the shared schema, where apps listed in both SHARED_APPS and
TENANT_APPS have tables of the same names. Stale knowledge must therefore fail closed.

A *lease* is this process's permission to run statements in one schema of one
database, granted by a verification in that database and valid for
``TENANCY["REGISTRY_MAX_AGE"]`` seconds from the moment the verification was sent.
A verification checks, in one query:

- the schema exists;
- when the context has a tenant (``tenant_context``): its registry row still has this
  schema name, and is still active if the tenant was active when it was activated;
- no *fence* is up on the schema (see below).

The backend (:mod:`tenancy_app.backends.postgresql`) looks at the active context's
lease before every statement: one attribute read and a clock read while it is valid;
when it has run out, the verification is sent first (its own round trip, once per
``REGISTRY_MAX_AGE`` per schema and process). A refused verification raises
:class:`~tenancy_app.exceptions.TenantUnavailable` before any statement runs there.
The tenant lookups of :mod:`tenancy_app.lookup` grant the lease in the same query that
reads the registry, so the request path never sends a verification of its own.

A *fence* is how a lifecycle operation that removes a schema name (``delete_tenant``,
``rename_tenant``) makes sure no process still holds a lease on it: it takes an
exclusive advisory lock on the name in a transaction of its own connection (which also
works through PgBouncer in transaction pooling mode), so that every verification from
then on is refused, waits ``REGISTRY_MAX_AGE`` (every lease granted before has run out),
then changes the registry and the schema, and lets go. If it dies on the way, the lock
goes with its connection and nothing was changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from django.db import connections
from django.db.models import BooleanField, F, Func, Value
from django.db.models.expressions import Case, Combinable, When
from django.db.models.functions import Concat
from django.db.models.lookups import IsNull
from psycopg import sql

from .conf import tenancy_settings
from .exceptions import TenantUnavailable

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from .models import TenantBase

__all__ = ["Lease", "fence", "lease_for", "renew"]

#: Prefix of the advisory lock key of a schema's fence (hashed with the name).
FENCE_KEY_PREFIX = "tenancy_app schema "
#: After a refusal, statements in the schema are refused without asking again for this long.
REFUSAL_MEMORY = 1.0
_MAX_LEASES = 100_000

LeaseKey = tuple[str, object, bool]


@dataclass(eq=False, slots=True)
class Lease:
    """This process's permission to use one schema (for one tenant), per database alias."""

    schema_name: str
    #: the tenant's primary key, when the context was activated with a tenant
    tenant_pk: object
    #: the tenant was active when activated, so it must still be
    require_active: bool
    #: alias -> ``time.monotonic()`` until which the schema may be used without asking
    expires: dict[str, float] = field(default_factory=dict)
    #: alias -> the last refusal, and until when it is repeated without asking
    refusals: dict[str, tuple[TenantUnavailable, float]] = field(default_factory=dict)

    def is_valid(self, using: str, now: float | None = None) -> bool:
        return self.expires.get(using, 0.0) > (time.monotonic() if now is None else now)

    def recent_refusal(self, using: str, now: float | None = None) -> TenantUnavailable | None:
        """The last refusal on ``using`` while it is remembered, else ``None``."""
        refused = self.refusals.get(using)
        if refused is not None and refused[1] > (time.monotonic() if now is None else now):
            return refused[0]
        return None

    def grant(self, using: str, sent_at: float) -> None:
        self.expires[using] = sent_at + tenancy_settings.REGISTRY_MAX_AGE
        self.refusals.pop(using, None)

    def refuse(self, using: str, refusal: TenantUnavailable, at: float) -> None:
        self.expires.pop(using, None)
        until = at + min(REFUSAL_MEMORY, tenancy_settings.REGISTRY_MAX_AGE)
        self.refusals[using] = (refusal, until)

    def revoke(self) -> None:
        """Forget what was verified (and refused): the next statement verifies again."""
        self.expires.clear()
        self.refusals.clear()


_leases: dict[LeaseKey, Lease] = {}
_leases_lock = threading.Lock()


def lease_for(schema_name: str, tenant: TenantBase | None = None) -> Lease:
    """The process-wide lease of ``schema_name`` (for ``tenant``), made unverified if new."""
    key: LeaseKey = (
        (schema_name, tenant.pk, tenant.is_active)
        if tenant is not None and tenant.pk is not None
        else (schema_name, None, False)
    )
    lease = _leases.get(key)
    if lease is None:
        with _leases_lock:
            lease = _leases.get(key)
            if lease is None:
                if len(_leases) >= _MAX_LEASES:
                    _leases.clear()  # each is verified again on next use
                lease = _leases[key] = Lease(*key)
    return lease


def revoke_schemas(schema_names: Iterable[str]) -> None:
    """Make this process verify these schemas again before their next statement."""
    names = set(schema_names)
    for lease in list(_leases.values()):
        if lease.schema_name in names:
            lease.revoke()


def revoke_all() -> None:
    for lease in list(_leases.values()):
        lease.revoke()


# The verification ------------------------------------------------------------------------


def _unfenced_sql(name: sql.Composable) -> sql.Composed:
    """True when no fence is up on the schema ``name``: a shared lock taken and let go at
    once, so no lock outlives the statement (nor a PgBouncer transaction)."""
    key = sql.SQL("pg_catalog.hashtextextended({} || {}, 0)").format(
        sql.Literal(FENCE_KEY_PREFIX), name
    )
    return sql.SQL(
        "CASE WHEN pg_catalog.pg_try_advisory_lock_shared({key}) "
        "THEN pg_catalog.pg_advisory_unlock_shared({key}) ELSE false END"
    ).format(key=key)


def _verification(lease: Lease) -> tuple[sql.Composed, dict[str, Any]]:
    from .models import get_tenant_model

    columns = [
        sql.SQL("pg_catalog.to_regnamespace(%(schema)s) IS NOT NULL"),
        _unfenced_sql(sql.SQL("%(schema)s")),
    ]
    params: dict[str, Any] = {"schema": lease.schema_name}
    if lease.tenant_pk is not None:
        model = get_tenant_model()
        opts = model._meta
        columns.append(
            sql.SQL(
                "(SELECT t.{status} FROM {table} t WHERE t.{pk} = %(pk)s AND t.{name} = %(schema)s)"
            ).format(
                status=sql.Identifier(str(opts.get_field("status").column)),
                table=sql.Identifier(tenancy_settings.PUBLIC_SCHEMA, opts.db_table),
                pk=sql.Identifier(str(opts.pk.column)),
                name=sql.Identifier(str(opts.get_field("schema_name").column)),
            )
        )
        params["pk"] = lease.tenant_pk
    return sql.SQL("SELECT {}").format(sql.SQL(", ").join(columns)), params


def judge(
    lease: Lease, *, exists: bool, unfenced: bool, status: object = None
) -> TenantUnavailable | None:
    """The refusal a verification's answers call for, or ``None`` when the lease is granted."""
    from .models import TenantStatus

    name = lease.schema_name
    if lease.tenant_pk is not None and status is None:
        return TenantUnavailable(
            name,
            "the tenant was deleted, or its schema renamed, by another process since this "
            "process looked it up",
            gone=True,
        )
    if not exists:
        return TenantUnavailable(name, "the schema does not exist", gone=lease.tenant_pk is None)
    if not unfenced:
        return TenantUnavailable(name, "the tenant is being deleted or renamed", gone=False)
    if lease.require_active and status != TenantStatus.ACTIVE:
        return TenantUnavailable(name, f"the tenant is no longer active ({status})", gone=False)
    return None


def renew(wrapper: BaseDatabaseWrapper, lease: Lease) -> None:
    """Verify ``lease`` on ``wrapper``'s connection and grant it, or raise TenantUnavailable.

    Sent on the psycopg connection itself, schema-qualified, so it needs no search_path
    and stays out of Django's query log; inside a transaction it sees that transaction's
    own uncommitted registry rows and schemas.
    """
    now = time.monotonic()
    using = wrapper.alias
    refusal = lease.recent_refusal(using, now)
    if refusal is not None:
        raise refusal
    query, params = _verification(lease)
    with wrapper.wrap_database_errors, wrapper.connection.cursor() as cursor:
        cursor.execute(query, params)
        row = cursor.fetchone()
    assert row is not None
    refusal = judge(lease, exists=row[0], unfenced=row[1], status=row[2] if len(row) > 2 else None)
    if refusal is not None:
        lease.refuse(using, refusal, now)
        raise refusal
    lease.grant(using, now)


# The same verification inside the ORM query of a tenant lookup -------------------------------


class _Function(Func):
    output_field = BooleanField()


def lookup_annotations(schema_field: str) -> dict[str, Combinable]:
    """Annotations that make a registry query answer the verification of its tenants too.

    ``schema_field`` is the path to the tenant's schema name in that query
    (``"schema_name"``, or ``"tenant__schema_name"`` from the domain model).
    """
    name = F(schema_field)
    key = Func(
        Concat(Value(FENCE_KEY_PREFIX), name),
        Value(0),
        function="pg_catalog.hashtextextended",
    )
    unfenced = Case(
        When(
            _Function(key, function="pg_catalog.pg_try_advisory_lock_shared"),
            then=_Function(key, function="pg_catalog.pg_advisory_unlock_shared"),
        ),
        default=Value(False),
        output_field=BooleanField(),
    )
    exists = IsNull(Func(name, function="pg_catalog.to_regnamespace"), False)
    return {"tenancy_schema_exists": exists, "tenancy_unfenced": unfenced}


def settle_lookup(tenant: TenantBase, annotated: Any, sent_at: float) -> None:
    """Grant or refuse ``tenant``'s lease from a lookup query annotated as above."""
    lease = lease_for(tenant.schema_name, tenant)
    using = annotated._state.db or "default"
    refusal = judge(
        lease,
        exists=annotated.tenancy_schema_exists,
        unfenced=annotated.tenancy_unfenced,
        status=tenant.status,
    )
    if refusal is None:
        lease.grant(using, sent_at)
    else:
        lease.refuse(using, refusal, sent_at)


# Fences --------------------------------------------------------------------------------------


@contextmanager
def fence(
    schema_names: Iterable[str], *, using: str, on_wait: Callable[[float], None] | None = None
) -> Iterator[None]:
    """Stop every process from using these schemas, and wait until none still may.

    Inside the block the caller removes or renames them; the fence is let go when the
    block ends (after the caller's transaction has committed, if it committed inside).
    ``on_wait`` is called with the number of seconds about to be waited.
    """
    from .lookup import clear_lookup_cache

    names = sorted(set(schema_names))
    if not names:
        yield
        return
    params = connections[using].get_connection_params()
    with psycopg.connect(**params) as conn:  # one transaction, held for the whole fence
        conn.execute(
            "SELECT pg_catalog.pg_advisory_xact_lock("
            "pg_catalog.hashtextextended(%s || name, 0)) FROM unnest(%s::text[]) AS name",
            [FENCE_KEY_PREFIX, names],
        )
        raised = time.monotonic()
        revoke_schemas(names)
        clear_lookup_cache()  # other processes reload (and are refused) at once where they can
        remaining = raised + tenancy_settings.REGISTRY_MAX_AGE - time.monotonic()
        if remaining > 0:
            if on_wait is not None:
                on_wait(remaining)
            time.sleep(remaining)
        yield
