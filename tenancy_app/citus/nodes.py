"""Which Citus node holds each tenant, what each node holds, and moving tenants online.

A tenant's schema is a distributed schema: all its tables are single-shard tables of one
colocation group, placed together on one worker. Its node is read from Citus's metadata
on the coordinator (``pg_dist_schema``, ``pg_dist_partition``, ``pg_dist_shard``,
``pg_dist_placement``, ``pg_dist_node``) in one query for any number of tenants.

:func:`move_tenant` calls ``citus_schema_move``, which copies the tenant's tables to the
target node with logical replication while the tenant keeps serving reads and writes,
then switches the placement over in a short lock. Its progress is read from
``get_rebalance_progress()`` on a second connection while the move runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from ..conf import tenancy_settings
from ..context import public_context
from ..exceptions import MoveFailed, SchemaNotDistributed, TenantError, UnknownNode
from ..models import TenantBase, get_tenant_model
from ..names import validate_schema_name
from .detection import is_citus, require_citus

__all__ = [
    "MoveProgress",
    "MoveResult",
    "Node",
    "NodeUsage",
    "Placement",
    "find_node",
    "list_nodes",
    "move_tenant",
    "node_usage",
    "tenant_nodes",
    "tenant_placements",
]

TransferMode = Literal["auto", "force_logical", "block_writes"]
TRANSFER_MODES: tuple[TransferMode, ...] = ("auto", "force_logical", "block_writes")


@dataclass(frozen=True)
class Node:
    """A primary node of the cluster (``pg_dist_node``)."""

    node_id: int
    host: str
    port: int
    #: 0 for the coordinator
    group_id: int
    #: whether Citus places new tenant schemas (and moves) on it
    takes_tenants: bool

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def role(self) -> str:
        return "coordinator" if self.group_id == 0 else "worker"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class NodeUsage:
    node: Node
    #: registered tenants whose schema is placed on the node
    tenants: int
    #: bytes on disk of those tenants' tables, indexes and TOAST on the node
    tenant_bytes: int
    #: distributed schemas on the node that are not tenants (the template schema, ...)
    other_schemas: int


@dataclass(frozen=True)
class MoveProgress:
    schema_name: str
    #: Citus's phase: "Setting Up", "Copying Data", "Catching Up", "Completed", ...
    phase: str
    copied_bytes: int
    total_bytes: int
    tables: int

    def __str__(self) -> str:
        percent = 100 * self.copied_bytes // self.total_bytes if self.total_bytes else 100
        return (
            f"{self.schema_name}: {self.phase.lower()}, {_megabytes(self.copied_bytes)} of "
            f"{_megabytes(self.total_bytes)} copied ({percent}%), {self.tables} tables"
        )


@dataclass(frozen=True)
class MoveResult:
    schema_name: str
    source: Node
    target: Node
    #: false when the tenant was on the target node already (nothing was done)
    moved: bool
    seconds: float


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


_NODES = (
    "SELECT nodeid, nodename, nodeport, groupid, shouldhaveshards "
    "FROM pg_catalog.pg_dist_node WHERE noderole = 'primary' AND isactive "
    "ORDER BY groupid, nodeid"
)


def list_nodes(*, using: str = DEFAULT_DB_ALIAS) -> list[Node]:
    """The active primary nodes, coordinator first."""
    require_citus(using=using)
    with public_context(), connections[using].cursor() as cursor:
        cursor.execute(_NODES)
        return [Node(*row) for row in cursor.fetchall()]


def find_node(name: str, *, using: str = DEFAULT_DB_ALIAS) -> Node:
    """The node called ``name`` (``host:port``, as ``list_nodes`` shows it).

    Raises :class:`~tenancy_app.exceptions.UnknownNode`, naming the nodes that exist.
    """
    nodes = list_nodes(using=using)
    host, _, port = name.rpartition(":")
    for node in nodes:
        if port.isdigit() and node.host == host and node.port == int(port):
            return node
    known = ", ".join(node.name for node in nodes if node.takes_tenants) or "none"
    raise UnknownNode(
        f"{name!r} is not a node of this Citus cluster. Nodes that take tenants: {known} "
        "(`manage.py list_nodes`). Add a worker with citus_add_node() first."
    )


# One row per distributed schema: the node of the first shard of its colocation group
# (all of a group's shards are placed together).
_SCHEMA_NODES = """
SELECT ns.nspname, n.nodeid, n.nodename, n.nodeport, n.groupid, n.shouldhaveshards
FROM pg_catalog.pg_dist_schema s
JOIN pg_catalog.pg_namespace ns ON ns.oid = s.schemaid
JOIN LATERAL (
    SELECT pl.groupid
    FROM pg_catalog.pg_dist_partition p
    JOIN pg_catalog.pg_dist_shard sh ON sh.logicalrelid = p.logicalrelid
    JOIN pg_catalog.pg_dist_placement pl ON pl.shardid = sh.shardid
    WHERE p.colocationid = s.colocationid
    LIMIT 1
) placed ON true
JOIN pg_catalog.pg_dist_node n ON n.groupid = placed.groupid AND n.noderole = 'primary'
WHERE ns.nspname = ANY(%s)
"""


def tenant_nodes(schema_names: Iterable[str], *, using: str = DEFAULT_DB_ALIAS) -> dict[str, Node]:
    """The node of each of ``schema_names`` that is a distributed schema with tables.

    One query whatever the number of schemas; empty on a plain PostgreSQL server.
    """
    names = list(schema_names)
    if not names or not is_citus(using=using):
        return {}
    with public_context(), connections[using].cursor() as cursor:
        cursor.execute(_SCHEMA_NODES, [names])
        return {row[0]: Node(*row[1:]) for row in cursor.fetchall()}


# Per node: the registered tenants placed there and their shards' sizes, from one
# citus_shard_sizes() call (one query per worker, whatever the number of tenants).
@dataclass(frozen=True)
class Placement:
    node: Node
    #: bytes on disk of the tenant's tables, indexes and TOAST on its node
    size: int


_PLACEMENTS = """
WITH schemas AS (
    SELECT ns.nspname, s.colocationid
    FROM pg_catalog.pg_dist_schema s
    JOIN pg_catalog.pg_namespace ns ON ns.oid = s.schemaid
    WHERE ns.nspname = ANY(%s)
),
shards AS (
    SELECT schemas.nspname, sh.shardid, pl.groupid
    FROM schemas
    JOIN pg_catalog.pg_dist_partition p ON p.colocationid = schemas.colocationid
    JOIN pg_catalog.pg_dist_shard sh ON sh.logicalrelid = p.logicalrelid
    JOIN pg_catalog.pg_dist_placement pl ON pl.shardid = sh.shardid
),
sizes AS (
    SELECT shard_id, max(size) AS size FROM pg_catalog.citus_shard_sizes() GROUP BY shard_id
)
SELECT shards.nspname, n.nodeid, n.nodename, n.nodeport, n.groupid, n.shouldhaveshards,
       COALESCE(sum(sizes.size), 0)::bigint
FROM shards
JOIN pg_catalog.pg_dist_node n ON n.groupid = shards.groupid AND n.noderole = 'primary'
LEFT JOIN sizes ON sizes.shard_id = shards.shardid
GROUP BY 1, 2, 3, 4, 5, 6
"""


def tenant_placements(
    schema_names: Iterable[str], *, using: str = DEFAULT_DB_ALIAS
) -> dict[str, Placement]:
    """The node and the size there of each of ``schema_names`` (distributed, with tables).

    One query (its ``citus_shard_sizes()`` asks each worker once); empty on a plain server.
    The size is measured on the worker: on the coordinator a distributed table is an
    empty shell.
    """
    names = list(schema_names)
    if not names or not is_citus(using=using):
        return {}
    with public_context(), connections[using].cursor() as cursor:
        cursor.execute(_PLACEMENTS, [names])
        return {row[0]: Placement(Node(*row[1:6]), row[6]) for row in cursor.fetchall()}


_USAGE = """
WITH placed AS (
    SELECT ns.nspname, pl.groupid, sh.shardid
    FROM pg_catalog.pg_dist_schema s
    JOIN pg_catalog.pg_namespace ns ON ns.oid = s.schemaid
    JOIN pg_catalog.pg_dist_partition p ON p.colocationid = s.colocationid
    JOIN pg_catalog.pg_dist_shard sh ON sh.logicalrelid = p.logicalrelid
    JOIN pg_catalog.pg_dist_placement pl ON pl.shardid = sh.shardid
),
sizes AS (
    SELECT shard_id, max(size) AS size FROM pg_catalog.citus_shard_sizes() GROUP BY shard_id
),
tenants AS (
    SELECT schema_name FROM {registry}
)
SELECT n.nodeid, n.nodename, n.nodeport, n.groupid, n.shouldhaveshards,
       count(DISTINCT placed.nspname) FILTER (WHERE t.schema_name IS NOT NULL),
       COALESCE(sum(sizes.size) FILTER (WHERE t.schema_name IS NOT NULL), 0)::bigint,
       count(DISTINCT placed.nspname) FILTER (WHERE t.schema_name IS NULL)
FROM pg_catalog.pg_dist_node n
LEFT JOIN placed ON placed.groupid = n.groupid
LEFT JOIN sizes ON sizes.shard_id = placed.shardid
LEFT JOIN tenants t ON t.schema_name = placed.nspname
WHERE n.noderole = 'primary' AND n.isactive
GROUP BY n.nodeid, n.nodename, n.nodeport, n.groupid, n.shouldhaveshards
ORDER BY n.groupid, n.nodeid
"""


def node_usage(*, using: str = DEFAULT_DB_ALIAS) -> list[NodeUsage]:
    """Every active primary node with its tenant count and the size of those tenants."""
    require_citus(using=using)
    registry = sql.SQL("{}.{}").format(
        sql.Identifier(tenancy_settings.PUBLIC_SCHEMA),
        sql.Identifier(get_tenant_model()._meta.db_table),
    )
    with public_context(), connections[using].cursor() as cursor:
        cursor.execute(sql.SQL(_USAGE).format(registry=registry))
        return [NodeUsage(Node(*row[:5]), *row[5:]) for row in cursor.fetchall()]


_PROGRESS = """
SELECT status, sum(target_shard_size)::bigint, sum(source_shard_size)::bigint, count(*)
FROM pg_catalog.get_rebalance_progress() r
JOIN pg_catalog.pg_class c ON c.oid = r.table_name
JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
WHERE ns.nspname = %s
GROUP BY status
ORDER BY count(*) DESC
"""


def _read_progress(cursor: Any, schema_name: str) -> MoveProgress | None:
    cursor.execute(_PROGRESS, [schema_name])
    rows = cursor.fetchall()
    if not rows:
        return None
    phase = rows[0][0]  # the phase most of the tables are in
    copied = sum(min(row[1] or 0, row[2] or 0) for row in rows)
    total = sum(row[2] or 0 for row in rows)
    return MoveProgress(schema_name, phase, copied, total, sum(row[3] for row in rows))


def move_tenant(
    tenant: TenantBase,
    node: str,
    *,
    mode: TransferMode = "auto",
    progress: Callable[[MoveProgress], None] | None = None,
    interval: float = 0.5,
    using: str = DEFAULT_DB_ALIAS,
) -> MoveResult:
    """Move ``tenant``'s schema to ``node`` (``host:port``) with ``citus_schema_move``.

    The tenant keeps serving during the copy (``mode="auto"`` uses logical replication;
    ``"block_writes"`` blocks its writes for the whole copy instead). ``progress`` is
    called with a :class:`MoveProgress` every ``interval`` seconds while the copy runs.
    Does nothing when the tenant is on ``node`` already. Raises
    :class:`~tenancy_app.exceptions.NotOnCitus`, :class:`~tenancy_app.exceptions.UnknownNode`
    (before anything is done), :class:`~tenancy_app.exceptions.SchemaNotDistributed`
    or :class:`~tenancy_app.exceptions.MoveFailed` (the tenant stays where it was).
    Must not run inside a transaction: the move commits on its own.
    """
    if mode not in TRANSFER_MODES:
        raise ValueError(f"mode must be one of {TRANSFER_MODES}, not {mode!r}.")
    schema_name = validate_schema_name(
        tenant.schema_name,
        reserved=(tenancy_settings.PUBLIC_SCHEMA, tenancy_settings.TEMPLATE_SCHEMA),
    )
    target = find_node(node, using=using)
    if not target.takes_tenants:
        raise UnknownNode(
            f"The node {target} does not take tenants (Citus's shouldhaveshards is off for "
            "it); choose a worker (`manage.py list_nodes`)."
        )
    source = tenant_nodes([schema_name], using=using).get(schema_name)
    if source is None:
        raise SchemaNotDistributed(
            f"The schema {schema_name!r} of {tenant} is not a distributed schema with tables, "
            "so it is on no node to move from. Distribute it first: "
            "SELECT citus_schema_distribute('<schema>') (see docs/scaling-out.rst)."
        )
    if source.node_id == target.node_id:
        return MoveResult(schema_name, source, target, moved=False, seconds=0.0)
    if connections[using].in_atomic_block:
        # The move runs on a connection of its own and would wait for this transaction's
        # locks on the tenant's tables; it commits on its own anyway.
        raise TenantError(
            f"move_tenant cannot run inside a transaction: moving {schema_name!r} commits on "
            "its own. Call it outside transaction.atomic()."
        )
    began = time.monotonic()
    _run_move(schema_name, target, mode, progress, interval, using)
    return MoveResult(schema_name, source, target, True, time.monotonic() - began)


def _run_move(
    schema_name: str,
    target: Node,
    mode: TransferMode,
    progress: Callable[[MoveProgress], None] | None,
    interval: float,
    using: str,
) -> None:
    """``citus_schema_move`` on a connection of its own; progress read on ``using``'s."""
    wrapper = connections[using]
    failure: list[BaseException] = []

    def move() -> None:
        # A thread has its own connection of each alias (or its own from the pool).
        own = connections[using]
        try:
            with public_context(), own.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_catalog.citus_schema_move(ns.oid::pg_catalog.regnamespace, "
                    "%s, %s, %s::citus.shard_transfer_mode) "
                    "FROM pg_catalog.pg_namespace ns WHERE ns.nspname = %s",
                    [target.host, target.port, mode, schema_name],
                )
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
        finally:
            own.close()

    worker = threading.Thread(target=move, name=f"citus_schema_move {schema_name}", daemon=True)
    worker.start()
    last: MoveProgress | None = None
    with public_context(), wrapper.cursor() as cursor:
        while worker.is_alive():
            worker.join(interval)
            if progress is None or not worker.is_alive():
                continue
            current = _read_progress(cursor, schema_name)
            if current is not None and current != last:
                progress(current)
                last = current
    if failure:
        raise MoveFailed(schema_name, target.name, failure[0]) from failure[0]
