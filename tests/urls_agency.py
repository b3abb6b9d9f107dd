"""The URLconf of tenants of type "agency" in tests/test_tenant_types.py."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from tenancy_app import get_current_schema


def agency_home(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"agency": True, "schema": get_current_schema()})


urlpatterns = [path("", agency_home, name="agency-home")]
