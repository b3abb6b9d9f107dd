"""Default responses for requests that cannot be served by a tenant; the health view."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.utils.html import escape
from django.views import View

from .conf import tenancy_settings
from .context import get_current_schema, get_current_tenant
from .health import check_tenants
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


class TenantsHealthView(View):
    """The ``check_tenants`` report as JSON, for monitoring: 200 when nothing is wrong, else 503.

    Mount it in the public URLconf, e.g. ``path("ops/tenants/health/",
    TenantsHealthView.as_view())``. It answers only outside any tenant (on a tenant's
    domain it is a 404, so no tenant learns the others' names), and only to active staff
    users: override :meth:`has_permission` to let a monitoring system in (a token, an
    address). One report costs a fixed number of statements whatever the number of
    tenants (plus one per 500 schemas to read their migrations).
    """

    using = DEFAULT_DB_ALIAS
    http_method_names = ["get", "head"]

    def has_permission(self, request: HttpRequest) -> bool:
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_active and user.is_staff)

    def get(self, request: HttpRequest) -> HttpResponse:
        if get_current_tenant() is not None or get_current_schema() != (
            tenancy_settings.PUBLIC_SCHEMA
        ):
            raise Http404("The tenant health report is only served outside tenants.")
        if not self.has_permission(request):
            return JsonResponse({"detail": "Staff only."}, status=403)
        report = check_tenants(using=self.using)
        return JsonResponse(report.as_dict(), status=200 if report.ok else 503)
