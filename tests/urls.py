from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse

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


urlpatterns = [
    path("admin/", admin.site.urls),
    path("notes/", notes, name="notes"),
    path("async-notes/", async_notes, name="async-notes"),
    # Mounted here too, to show that it refuses to answer inside a tenant.
    path("ops/tenants/health/", TenantsHealthView.as_view()),
]
