"""The tenant views of the bench: a small dashboard (three queries) and a one-query view."""

from __future__ import annotations

from django.db.models import Avg, F, Sum
from django.http import HttpRequest, JsonResponse

from .models import Item


def item_list(request: HttpRequest) -> JsonResponse:
    count = Item.objects.count()
    latest = list(Item.objects.order_by("-created_at")[:20])
    totals = Item.objects.aggregate(
        stock_value=Sum(F("price") * F("quantity")), avg_price=Avg("price")
    )
    tenant = getattr(request, "tenant", None)
    return JsonResponse(
        {
            "tenant": tenant.schema_name if tenant is not None else None,
            "count": count,
            "latest": [
                {
                    "id": item.pk,
                    "name": item.name,
                    "category": item.category,
                    "price": str(item.price),
                }
                for item in latest
            ],
            "stock_value": str(totals["stock_value"]),
            "avg_price": str(totals["avg_price"]),
        }
    )


def item_count(request: HttpRequest) -> JsonResponse:
    """One query: where the request path's own cost is the largest share of a request.

    The view does the same work with and without tenancy_app (it does not read
    ``request.tenant``), so every difference is the request path's.
    """
    return JsonResponse({"count": Item.objects.count()})
