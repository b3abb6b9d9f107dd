"""Citus: every tenant schema a distributed schema on one worker node, moved online.

On a Citus coordinator with schema-based sharding (``citus.enable_schema_based_sharding``)
every ``CREATE SCHEMA`` makes a distributed schema whose tables live on one worker, and
queries reach them through the ordinary ``search_path``; tenancy_app needs no setting
for it. What differs there:

- :mod:`.detection`: whether the database is a Citus coordinator, asked once per
  physical connection; provisioning then sends its clone script one statement at a
  time (:func:`tenancy_app.cloning.run_clone_script`);
- :mod:`.reference`: shared tables that tenant tables reference must be reference
  tables (``make_reference_tables``, ``migrate_schemas --reference-tables``, check
  ``tenancy.W141``);
- :mod:`.nodes`: which node holds each tenant, nodes with their tenant counts and sizes,
  and moving a tenant to another node online (``move_tenant``, ``list_nodes``).

See docs/scaling-out.rst.
"""

from __future__ import annotations

from .detection import citus_version, is_citus, require_citus
from .nodes import (
    MoveProgress,
    MoveResult,
    Node,
    NodeUsage,
    Placement,
    find_node,
    list_nodes,
    move_tenant,
    node_usage,
    tenant_nodes,
    tenant_placements,
)
from .reference import (
    ReferenceTablesResult,
    make_reference_tables,
    missing_reference_tables,
    shared_tables_referenced_by_tenants,
)

__all__ = [
    "MoveProgress",
    "MoveResult",
    "Node",
    "NodeUsage",
    "Placement",
    "ReferenceTablesResult",
    "citus_version",
    "find_node",
    "is_citus",
    "list_nodes",
    "make_reference_tables",
    "missing_reference_tables",
    "move_tenant",
    "node_usage",
    "require_citus",
    "shared_tables_referenced_by_tenants",
    "tenant_nodes",
    "tenant_placements",
]
