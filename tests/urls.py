import time

from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt

from tenancy_app import get_current_schema
from tenancy_app.views import TenantsHealthView
from tests.notes.models import Note


def notes(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "schema": get_current_schema(),
            "tenant": getattr(request.tenant, "schema_name", None),
            "titles": [note.title for note in Note.objects.all()],
            "self": reverse("notes"),
        }
    )


async def async_notes(request: HttpRequest) -> JsonResponse:
    titles = [note.title async for note in Note.objects.all()]
    return JsonResponse({"schema": get_current_schema(), "titles": titles})


@csrf_exempt
def whoami(request: HttpRequest) -> JsonResponse:
    """Which schema answered, seen through auth_group: a table in the public schema and in
    every tenant's (auth is in both SHARED_APPS and TENANT_APPS)."""
    if "sleep" in request.GET:
        time.sleep(float(request.GET["sleep"]))
    if request.method == "POST":
        Group.objects.create(name=request.POST["name"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_catalog.current_schemas(false)")
        (search_path,) = cursor.fetchone()
    return JsonResponse(
        {
            "schema": get_current_schema(),
            "search_path": search_path,
            "groups": sorted(Group.objects.values_list("name", flat=True)),
        }
    )


urlpatterns = [
    path("whoami/", whoami, name="whoami"),
    path("admin/", admin.site.urls),
    path("notes/", notes, name="notes"),
    path("async-notes/", async_notes, name="async-notes"),
    # Mounted here too, to show that it refuses to answer inside a tenant.
    path("ops/tenants/health/", TenantsHealthView.as_view()),
]
