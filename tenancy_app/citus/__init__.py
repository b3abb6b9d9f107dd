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

__all__ = ["citus_version", "is_citus", "require_citus"]
