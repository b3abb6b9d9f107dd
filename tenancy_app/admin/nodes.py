"""The tenant admin on a Citus cluster: each tenant's node, and a page of the nodes.

On a plain PostgreSQL server none of this shows: the list has no node column and the
nodes page answers 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from ..citus import is_citus, node_usage, tenant_placements


def annotate_placements(rows: list[Any]) -> None:
    """Set ``admin_node`` on each row and, on Citus, ``admin_schema_size`` measured on the
    tenant's node (on the coordinator its tables are empty shells). One query per page."""
    placements = tenant_placements([row.schema_name for row in rows])
    for row in rows:
        placement = placements.get(row.schema_name)
        row.admin_node = placement.node.name if placement is not None else None
        if placement is not None:
            row.admin_schema_size = placement.size


def nodes_view(model_admin: ModelAdmin[Any], request: HttpRequest) -> HttpResponse:
    """The nodes of the cluster with their tenant counts and sizes, for rebalancing."""
    if not model_admin.has_view_permission(request):
        raise Http404
    if not is_citus():
        raise Http404(_("The database is not a Citus cluster: tenants are not placed on nodes."))
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Nodes"),
        "subtitle": None,
        "opts": opts,
        "nodes": node_usage(),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(
        request,
        [
            f"admin/{opts.app_label}/{opts.model_name}/nodes.html",
            "admin/tenancy_app/tenant/nodes.html",
        ],
        context,
    )
