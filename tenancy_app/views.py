"""Default responses for requests that cannot be served by a tenant."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils.html import escape

from .models import TenantBase


def tenant_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``TENANCY["NOT_FOUND_VIEW"]``: the request names no known tenant (404)."""
    detail = escape(str(exception)) if exception else "No tenant is served at this address."
    return HttpResponseNotFound(f"<h1>Not Found</h1><p>{detail}</p>")


def tenant_unavailable(request: HttpRequest, tenant: TenantBase) -> HttpResponse:
    """``TENANCY["UNAVAILABLE_VIEW"]``: the tenant exists but is not active (503)."""
    response = HttpResponse(
        "<h1>Service Unavailable</h1><p>This account is not available at the moment.</p>",
        status=503,
    )
    response["Retry-After"] = "3600"
    return response
