"""URLs of the Citus end-to-end tests: the test project's, plus a view that writes a note."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tenancy_app import get_current_schema
from tests.notes.models import Note
from tests.urls import urlpatterns as base_urlpatterns


@csrf_exempt
def write_note(request: HttpRequest) -> JsonResponse:
    note = Note.objects.create(title=request.POST["title"])
    return JsonResponse({"schema": get_current_schema(), "id": note.pk})


urlpatterns = [*base_urlpatterns, path("write/", write_note, name="write")]
