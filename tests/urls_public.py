from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path

from tenancy_app import get_current_schema
from tenancy_app.views import TenantsHealthView


def home(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"public": True, "schema": get_current_schema()})


urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("ops/tenants/health/", TenantsHealthView.as_view()),
]
